#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: a venv with the project and its test
# tools, the engines and fixtures (scripts/test-engine.sh), lint and types, then pytest.
# Arguments go to pytest. MCPD_KEEP_ENGINE=1 leaves the engines running afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON_BIN=${PYTHON_BIN:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "test.sh: Python 3.11+ is required" >&2; exit 1; }
  "$PYTHON_BIN" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

stop_engines() { [ "${MCPD_KEEP_ENGINE:-0}" = 1 ] || PYTHON=.venv/bin/python scripts/test-engine.sh down; }
trap stop_engines EXIT
PYTHON=.venv/bin/python scripts/test-engine.sh up
# shellcheck disable=SC1091
source "${MCPD_TEST_STATE:-$ROOT/.test-engine}/env"

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy

status=0
.venv/bin/python -m pytest "$@" || status=$?
# pytest's 5 means no test ran: that is a failure here, never a pass.
[ "$status" -eq 5 ] && { echo "test.sh: no tests were collected" >&2; status=1; }
exit "$status"
