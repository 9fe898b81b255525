#!/usr/bin/env bash
# The project's test command (the README names it; .ci/run runs it), from a fresh Debian machine:
#   1. .venv with the project and its test tools (Python 3.11+)
#   2. the real engines and fixtures: scripts/test-engine.sh up, then its <state>/env
#   3. python -m pytest "$@" (default options come from pyproject.toml); for a full run (no
#      arguments, as CI does) then ruff and mypy as well
#   4. for a full run with the current engine as primary (MCPD_TEST_PRIMARY=current): the
#      compatibility pass, COMPAT_TESTS run a second time against the floor engine (Docker 20.10,
#      API 1.41: the second engine), from inside its network namespace
#   5. on exit, scripts/test-engine.sh down, unless MCPD_KEEP_ENGINE=1
# The exit code is pytest's (or the compatibility pass's, or the linters', when pytest passed).
# pytest's 5, "no tests collected", is a failure here: a run that tested nothing never passes.
# MCPD_TEST_COMPAT=only runs the compatibility pass alone (with or without arguments), =skip never.
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
# The Dev Containers CLI the dev-container tool runs (@devcontainers/cli), pinned the same way
# by devcontainers/package-lock.json.
devcontainers_lock_sum=$(sha256sum devcontainers/package-lock.json | cut -d' ' -f1)
devcontainers_stamp=devcontainers/node_modules/.installed-lock-sha256
if [ "$(cat "$devcontainers_stamp" 2>/dev/null)" != "$devcontainers_lock_sum" ]; then
  say "installing the Dev Containers CLI (npm ci in devcontainers)"
  (cd devcontainers && npm ci --no-audit --no-fund --loglevel=error) >&2
  printf '%s\n' "$devcontainers_lock_sum" >"$devcontainers_stamp"
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
scripts/test-podman.sh up # Podman for the Kubernetes round trip (the test removes what it plays)

# The compatibility pass: every tool's main path, the transports, Compose and the resources, on
# the floor engine. Not here: ssh (its sshd serves the primary, in the host's namespace) and the
# test that stops the second engine (that is the engine under test in this pass).
COMPAT_TESTS=(
  tests/integration/test_containers.py
  tests/integration/test_images.py
  tests/integration/test_networks_volumes.py
  tests/integration/test_system.py
  tests/integration/test_compose.py
  tests/integration/test_resources.py
  tests/integration/test_swarm.py
  tests/integration/test_transports.py
)
# nor the several-engines resource test: it takes the TLS engine for the second one, and in this
# pass the TLS port is the floor engine itself.
COMPAT_DESELECT="not ssh and not test_engine_restart_mid_session_needs_no_server_restart"
COMPAT_DESELECT+=" and not test_with_several_engines_uris_name_theirs"

pytest_status() { # pytest arguments...: pytest's exit status, 5 (nothing collected) as a failure
  local code=0
  "$@" || code=$?
  if [ "$code" -eq 5 ]; then
    say "pytest collected no tests: that is a failure"
    code=1
  fi
  return "$code"
}

compat_pass() { # in a subshell: the second engine's variables stay there
  (
    # shellcheck source=/dev/null
    source "$MCPD_TEST_STATE/env-second"
    say "compatibility pass: ${#COMPAT_TESTS[@]} test files on the floor engine, Docker $MCPD_TEST_ENGINE_VERSION" \
      "(API $MCPD_TEST_ENGINE_API) on $MCPD_TEST_UNIX_HOST, in network namespace $MCPD_TEST_NETNS"
    pytest_status nsenter --net="$MCPD_TEST_NETNS" "$VENV_PY" -m pytest "${COMPAT_TESTS[@]}" -k "$COMPAT_DESELECT"
  )
}

status=0
compat=${MCPD_TEST_COMPAT:-auto}
if [ "$compat" != only ]; then
  pytest_status "$VENV_PY" -m pytest "$@" || status=$?
fi
if [ "$compat" = only ] || { [ "$compat" = auto ] && [ $# -eq 0 ]; }; then
  if [ "${MCPD_TEST_PRIMARY:-floor}" = current ]; then
    compat_status=0
    compat_pass || compat_status=$?
    [ "$compat_status" -eq 0 ] || say "the compatibility pass on the floor engine failed"
    [ "$status" -ne 0 ] || status=$compat_status
  else
    say "no compatibility pass: the primary engine is the floor engine itself (MCPD_TEST_PRIMARY=${MCPD_TEST_PRIMARY:-floor})"
  fi
fi

if [ $# -eq 0 ]; then # a full run: the linters too (after pytest, so their failures hide no test result)
  lint=0
  .venv/bin/ruff check src tests bench || lint=1
  .venv/bin/ruff format --check src tests bench || lint=1
  .venv/bin/mypy || lint=1
  .venv/bin/lint-imports --no-cache || lint=1
  if [ "$lint" -ne 0 ]; then
    say "ruff, mypy or the import contracts failed"
    [ "$status" -ne 0 ] || status=1
  fi
fi
exit "$status"
