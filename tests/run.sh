#!/bin/sh
# Sets up everything the tests need (a venv, the Python packages, the frontend's npm
# packages), runs both halves' linters and every test. Browser tests need Chromium at
# /usr/bin/chromium (Debian: apt-get install -y chromium), those over HTTPS also certutil
# (apt-get install -y libnss3-tools). The PostgreSQL run and the bus tests need
# PostgreSQL and Redis installed (apt-get install -y postgresql redis-server; their
# services need not run); without them those tests are skipped, but fail under CI.
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
# The same suite again on PostgreSQL (a cluster of its own, see tests/servers.py), but
# for the browser tests, which drive the same server code through a slower door, and the
# tests of SQLite itself, which skip there. Reads run on threads with the event-loop
# rule on, so any read left on the event loop fails.
CHATBOX_TEST_DATABASE=postgres "$VENV/bin/python" -m pytest --ignore-glob='tests/test_ui*' -m "not browser" "$@"
