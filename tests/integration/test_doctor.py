"""`python -m mcp_docker_server doctor`, the real command, against the real engines.

Each test spawns the command as a subprocess with an environment of its own (no DOCKER_* or
MCP_DOCKER_* leaks in from the test run), and measures how long it took.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import env

pytestmark = pytest.mark.docker

CANARY = "canary-Hb4nR8tY2mQ6"


def doctor(*args: str, home: Path, extra: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """Run the doctor; return its exit code, stdout, stderr and the seconds it took."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "MCP_DOCKER_", "REGISTRY_"))}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mcp_docker_server", "doctor", *args],
        env={**clean, "HOME": str(home), **(extra or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word (a hung engine)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_one_engine_up_exits_0_with_its_versions(home: Path, docker_client: docker.DockerClient) -> None:
    real = docker_client.version()
    code, out, err, _ = doctor(home=home, extra={"DOCKER_HOST": env("MCPD_TEST_UNIX_HOST")})
    assert code == 0, out + err
    engine_line = next(line for line in out.splitlines() if line.startswith("  ok    default  unix"))
    assert f"engine {real['Version']}, API {real['ApiVersion']}" in engine_line
    assert "(DOCKER_HOST)" in engine_line
    assert "Compose v2." in out
    # HOME is a fresh folder: no buildx in its ~/.docker/cli-plugins, the one warning.
    assert "no buildx (the docker CLI has no buildx plugin)" in out
    assert out.splitlines()[-1] == "all fine, 1 warning(s); exit 0"


def test_a_down_engine_fails_with_its_fix_and_the_up_one_is_still_reported(
    home: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    engines = tmp_path / "engines.toml"
    engines.write_text(
        f'default = "local"\n'
        f'[engines.local]\nhost = "{env("MCPD_TEST_UNIX_HOST")}"\n'
        f'[engines.down]\nhost = "tcp://127.0.0.1:1"\n'
        f'[engines.gone]\nhost = "unix://{tmp_path}/absent.sock"\n'
    )
    code, out, err, took = doctor(home=home, extra={"MCP_DOCKER_ENGINES_FILE": str(engines)})
    print(out)  # the report quotes it
    assert code == 1, out + err
    assert took < 5, f"doctor took {took:.1f} s"
    rows = out.splitlines()
    local = next(r for r in rows if r.startswith("  ok    local  unix"))
    assert f"engine {docker_client.version()['Version']}" in local
    down = rows.index(next(r for r in rows if r.startswith("  FAIL  down  tcp  tcp://127.0.0.1:1")))
    assert "Connection refused" in rows[down]
    assert rows[down + 1].startswith("        fix: start the engine")
    assert "MCP_DOCKER_ENGINES_FILE" in rows[down + 1]
    gone = rows.index(next(r for r in rows if r.startswith("  FAIL  gone  unix")))
    assert rows[gone + 1].startswith("        fix: start dockerd")
    assert rows[-1] == "2 problem(s), 1 warning(s); exit 1"  # the warning: no buildx in this HOME


def test_a_hung_engine_costs_the_budget_not_a_hang(home: Path, tmp_path: Path, silent_port: int) -> None:
    # Over TCP the read times out at the budget; over SSH paramiko waits 15 s for a banner
    # whatever the timeout, and the probe is abandoned at the budget plus a grace.
    engines = tmp_path / "engines.toml"
    engines.write_text(
        f'[engines.local]\nhost = "{env("MCPD_TEST_UNIX_HOST")}"\n'
        f'[engines.mute]\nhost = "tcp://127.0.0.1:{silent_port}"\n'
        f'[engines.mute-ssh]\nhost = "ssh://root@127.0.0.1:{silent_port}"\n'
    )
    code, out, err, took = doctor(
        "--probe-timeout", "1", home=home, extra={"MCP_DOCKER_ENGINES_FILE": str(engines)}
    )
    assert code == 1, out + err
    assert took < 8, f"doctor took {took:.1f} s"
    assert "1 s budget each" in out
    assert any(r.startswith("  ok    local") for r in out.splitlines())
    for name in ("mute", "mute-ssh"):
        row = out.splitlines().index(next(r for r in out.splitlines() if r.startswith(f"  FAIL  {name} ")))
        assert "within the 1 s budget" in out.splitlines()[row + 1]
    assert "Traceback" not in err


def test_every_transport_reports_as_json(home: Path, docker_client: docker.DockerClient) -> None:
    engines = home / "engines.toml"
    engines.write_text(
        f'[engines.local]\nhost = "{env("MCPD_TEST_UNIX_HOST")}"\n'
        f'[engines.plain]\nhost = "{env("MCPD_TEST_TCP_HOST")}"\n'
        f'[engines.second]\nhost = "{env("MCPD_TEST_TLS_HOST")}"\n'
        f'tls_verify = true\ncert_path = "{env("MCPD_TEST_TLS_CERT_PATH")}"\n'
        f'[engines.remote]\nhost = "{env("MCPD_TEST_SSH_HOST")}"\nread_only = true\n'
    )
    # paramiko reads ~/.ssh from HOME: the test engine's SSH home has the key and known host.
    ssh_home = Path(env("MCPD_TEST_SSH_HOME"))
    code, out, err, took = doctor("--json", home=ssh_home, extra={"MCP_DOCKER_ENGINES_FILE": str(engines)})
    data = json.loads(out)
    by_name = {e["name"]: e for e in data["engines"]}
    assert {n: e["transport"] for n, e in by_name.items()} == {
        "local": "unix",
        "plain": "tcp",
        "second": "tls",
        "remote": "ssh",
    }
    unreachable = {n: e["error"] for n, e in by_name.items() if not e["reachable"]}
    assert not unreachable, err
    # local, plain and remote are the primary engine; second is the other dockerd.
    assert by_name["remote"]["engine_version"] == docker_client.version()["Version"]
    assert by_name["remote"]["read_only"] is True
    assert data["policy"]["engines"] == {"remote": ["read_only=yes"]}
    assert all(e["api_version"] for e in data["engines"])
    failing = [c for c in data["checks"] if c["status"] == "fail"]
    assert data["ok"] is (not failing), failing
    assert code == (0 if data["ok"] else 1)
    assert took < 10


def test_no_secret_reaches_the_output(home: Path, tmp_path: Path) -> None:
    docker_dir = home / ".docker"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "registry.example": {"auth": base64.b64encode(f"me:{CANARY}".encode()).decode()},
                    "ghcr.io": {"identitytoken": CANARY},
                },
                "credsStore": "doctor-test-absent",
            }
        )
    )
    token_file = tmp_path / "token"
    token_file.write_text(CANARY)
    secrets = {
        "DOCKER_HOST": env("MCPD_TEST_UNIX_HOST"),
        "REGISTRY_USERNAME": "me",
        "REGISTRY_PASSWORD": CANARY,
        "MCP_DOCKER_TRANSPORT": "http",
        "MCP_DOCKER_HTTP_TOKEN_FILE": str(token_file),
    }
    for args in ((), ("--json",)):
        code, out, err, _ = doctor(*args, home=home, extra=secrets)
        assert CANARY not in out + err
        assert base64.b64encode(f"me:{CANARY}".encode()).decode() not in out + err
        # The missing credential store is the one problem, named with its fix.
        assert code == 1, out + err
        assert "docker-credential-doctor-test-absent" in out
    assert "bearer token: set" in out
    assert "registry.example" in out


def test_a_configuration_error_exits_2_like_the_server(home: Path) -> None:
    code, out, err, _ = doctor(home=home, extra={"DOCKER_HOST": "tcp://10.9.8.7:2375"})
    assert code == 2
    assert out == ""
    assert "configuration error: DOCKER_HOST" in err
    assert "MCP_DOCKER_ALLOW_INSECURE_TCP" in err


def test_the_console_script_routes_doctor(home: Path) -> None:
    script = Path(sys.executable).with_name("mcp-docker-server")
    done = subprocess.run(
        [str(script), "doctor", "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    assert "--probe-timeout" in done.stdout
    assert "--json" in done.stdout
