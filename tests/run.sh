#!/bin/sh
# Sets up everything the tests need (a venv, the Python packages, the frontend's npm
# packages) and runs every test. Browser tests need Chromium at /usr/bin/chromium
# (Debian: apt-get install -y chromium).
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -r tests/requirements.txt
if [ -f frontend/package.json ]; then
    (cd frontend && npm ci --no-audit --no-fund && npm test && npm run lint)
fi
"$VENV/bin/python" -m pytest "$@"
