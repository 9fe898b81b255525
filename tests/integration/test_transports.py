"""The four Docker transports against real engines, and surviving an engine restart.

The engines come from scripts/test-engine.sh: the primary on the unix socket, the same engine on
plain TCP (loopback), a second dockerd with mutual TLS (also on its own unix socket), and sshd on
loopback that reaches the primary through `docker system dial-stdio`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import env, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def list_through(host: str, **extra: str) -> dict[str, object]:
    async with Client(build_server(settings_for(host, **extra))) as client:
        return ok(await client.call_tool("list-containers", {"all": True}))


async def failing_list(host: str, **extra: str) -> str:
    async with Client(build_server(settings_for(host, **extra))) as client:
        return error_text(await client.call_tool("list-containers", {"all": True}))


def engine_script(*args: str) -> None:
    subprocess.run([env("MCPD_TEST_ENGINE_SCRIPT"), *args], check=True, timeout=120, stdin=subprocess.DEVNULL)


async def test_unix_socket(unix_host: str) -> None:
    assert "containers" in await list_through(unix_host)


async def test_plain_tcp_on_loopback() -> None:
    assert "containers" in await list_through(env("MCPD_TEST_TCP_HOST"))


async def test_tcp_with_mutual_tls() -> None:
    listing = await list_through(
        env("MCPD_TEST_TLS_HOST"), DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=env("MCPD_TEST_TLS_CERT_PATH")
    )
    assert "containers" in listing


async def test_tls_engine_refuses_plain_http() -> None:
    text = await failing_list(env("MCPD_TEST_TLS_HOST"))
    assert "Docker engine unreachable" in text or "refused" in text


async def test_tls_with_the_wrong_ca_fails_closed(tmp_path: Path) -> None:
    certs = Path(env("MCPD_TEST_TLS_CERT_PATH"))
    for name in ("cert.pem", "key.pem"):
        shutil.copy(certs / name, tmp_path / name)
    # A CA that did not sign the server's certificate: the client's own cert stands in for one.
    shutil.copy(certs / "cert.pem", tmp_path / "ca.pem")
    text = await failing_list(
        env("MCPD_TEST_TLS_HOST"), DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(tmp_path)
    )
    assert "Docker engine unreachable" in text


async def test_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-py's paramiko transport reads ~/.ssh/config and known_hosts from HOME.
    monkeypatch.setenv("HOME", env("MCPD_TEST_SSH_HOME"))
    assert "containers" in await list_through(env("MCPD_TEST_SSH_HOST"))


PROCESS_WITHOUT_SSH = """
import sys
from mcp_docker_server.engine.core import forgo_charset_detection, forgo_ssh
from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.engine import Engine, System
import anyio
assert forgo_ssh() and forgo_charset_detection()
system = System(Engine(load_settings({"DOCKER_HOST": sys.argv[1]}).engine))
print(anyio.run(system.version)["version"], sys.modules["paramiko"], sys.modules["charset_normalizer"])
"""


def test_a_process_without_ssh_engines_never_loads_paramiko(unix_host: str) -> None:
    """The CLI forgoes docker-py's SSH transport when no engine needs it (7 MiB of memory) and
    requests' character-set detector (2 MiB): the engine must still answer over the socket."""
    done = subprocess.run(
        [sys.executable, "-c", PROCESS_WITHOUT_SSH, unix_host], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    version, paramiko, detector = done.stdout.split()
    assert version[0].isdigit()
    assert paramiko == "None"
    assert detector == "None"
    assert done.stderr == ""  # requests' "no character detection" warning is expected and silenced


async def test_ssh_with_an_unknown_host_key_fails_closed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(Path(env("MCPD_TEST_SSH_HOME")) / ".ssh", home / ".ssh")
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    text = await failing_list(env("MCPD_TEST_SSH_HOST"))
    assert "Docker engine unreachable" in text


async def test_unreachable_engine_answers_within_the_timeout(tmp_path: Path) -> None:
    with anyio.fail_after(10):
        text = await failing_list(f"unix://{tmp_path}/absent.sock", DOCKER_TIMEOUT="3")
    assert "No such file or directory" in text


async def test_engine_restart_mid_session_needs_no_server_restart() -> None:
    host = env("MCPD_TEST_SECOND_UNIX_HOST")
    async with Client(build_server(settings_for(host, DOCKER_TIMEOUT="10"))) as client:
        ok(await client.call_tool("list-containers", {"all": True}))
        engine_script("stop-second")
        try:
            with anyio.fail_after(15):
                down = error_text(await client.call_tool("list-containers", {"all": True}))
            assert f"Docker engine unreachable at {host}" in down
        finally:
            engine_script("start-second")
        ok(await client.call_tool("list-containers", {"all": True}))


async def test_compose_reaches_the_same_tls_engine(tmp_path: Path) -> None:
    """Compose is handed the server's engine (host and TLS material), not the local default."""
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: busybox:local\n")
    settings = settings_for(
        env("MCPD_TEST_TLS_HOST"), DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=env("MCPD_TEST_TLS_CERT_PATH")
    )
    async with Client(build_server(settings)) as client:
        listed = ok(
            await client.call_tool(
                "compose-stack",
                {"compose_file": str(tmp_path / "compose.yaml"), "action": "ps", "project_name": "mcpd-tls"},
            )
        )
    assert listed["services"] == []
    wrong = settings_for(env("MCPD_TEST_TLS_HOST"))  # no TLS: Compose must fail against that port
    async with Client(build_server(wrong)) as client:
        text = error_text(
            await client.call_tool(
                "compose-stack",
                {"compose_file": str(tmp_path / "compose.yaml"), "action": "ps", "project_name": "mcpd-tls"},
            )
        )
    assert "compose ps" in text
