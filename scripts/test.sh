#!/usr/bin/env bash
# The project's test command (the README names it; .ci/run runs it), from a fresh Debian machine:
#   1. .venv with the project and its test tools (Python 3.11+)
#   2. the real engines and fixtures: scripts/test-engine.sh up, then its <state>/env
#   3. python -m pytest "$@" (default options come from pyproject.toml); for a full run (no
#      arguments, as CI does) then ruff and mypy as well
#   4. on exit, scripts/test-engine.sh down, unless MCPD_KEEP_ENGINE=1
# The exit code is pytest's (or the linters' when pytest passed). pytest's 5, "no tests
# collected", is a failure here: a run that tested nothing never passes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'test.sh: %s\n' "$*" >&2; }

PYTHON_BIN=${PYTHON_BIN:-python3}
VENV_PY="$ROOT/.venv/bin/python"
if [ ! -x "$VENV_PY" ]; then
  command -v "$PYTHON_BIN" >/dev/null 2>&1 || { say "no $PYTHON_BIN: Python 3.11+ is required"; exit 1; }
  say "creating .venv with $("$PYTHON_BIN" --version 2>&1)"
  "$PYTHON_BIN" -m venv .venv
fi
"$VENV_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say ".venv has $("$VENV_PY" --version 2>&1); Python 3.11+ is required (remove .venv, set PYTHON_BIN)"; exit 1; }
"$VENV_PY" -m pip install -q --disable-pip-version-check -e '.[test]'

# The external MCP clients tests/e2e/test_external_clients.py drives (the Inspector's CLI, the
# conformance suite), pinned by tests/clients/package-lock.json. npm ci runs only when the lock
# file changed since node_modules was last installed from it.
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 \
    || { say "no $tool: Node.js 20+ is required (Debian packages: apt-get install nodejs npm)"; exit 1; }
done
clients_lock_sum=$(sha256sum tests/clients/package-lock.json | cut -d' ' -f1)
clients_stamp=tests/clients/node_modules/.installed-lock-sha256
if [ "$(cat "$clients_stamp" 2>/dev/null)" != "$clients_lock_sum" ]; then
  say "installing the external MCP clients (npm ci in tests/clients)"
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) >&2
  printf '%s\n' "$clients_lock_sum" >"$clients_stamp"
fi

# shellcheck disable=SC2317  # (reached through the trap below)
finish() {
  local status=$?
  if [ "${MCPD_KEEP_ENGINE:-0}" = 1 ]; then
    say "MCPD_KEEP_ENGINE=1: the engines stay up (scripts/test-engine.sh down stops them)"
  elif ! PYTHON="$VENV_PY" scripts/test-engine.sh down; then
    say "scripts/test-engine.sh down failed"
    [ "$status" -ne 0 ] || status=1
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PYTHON: the venv's pip fetches Compose, and its docker-py checks the ssh:// transport.
PYTHON="$VENV_PY" scripts/test-engine.sh up
# shellcheck source=/dev/null
source "${MCPD_TEST_STATE:-$ROOT/.test-engine}/env"

status=0
"$VENV_PY" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  say "pytest collected no tests: that is a failure"
  status=1
fi

if [ $# -eq 0 ]; then # a full run: the linters too (after pytest, so their failures hide no test result)
  lint=0
  .venv/bin/ruff check src tests bench || lint=1
  .venv/bin/ruff format --check src tests bench || lint=1
  .venv/bin/mypy || lint=1
  if [ "$lint" -ne 0 ]; then
    say "ruff or mypy failed"
    [ "$status" -ne 0 ] || status=1
  fi
fi
exit "$status"
