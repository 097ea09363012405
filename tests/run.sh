#!/bin/sh
# Sets up everything the tests need (a venv, the Python packages, the frontend's npm
# packages), runs both halves' linters and every test. Browser tests need Chromium at
# /usr/bin/chromium (Debian: apt-get install -y chromium), those over HTTPS also certutil
# (apt-get install -y libnss3-tools).
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -r tests/requirements.txt
if [ -f frontend/package.json ]; then
    (cd frontend && npm ci --no-audit --no-fund && npm test && npm run lint)
fi
# Lint and format are checked like tests: a violation fails the run (fix with
# "ruff check --fix ." and "ruff format .").
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
