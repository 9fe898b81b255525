"""The server's own image (Dockerfile), built and driven for real.

No container registry is reachable here, so the image is built FROM the Debian base that
scripts/base-image.sh makes with debootstrap (MCPD_TEST_BASE_IMAGE), with this checkout's wheels
built on the host and installed with `docker build --network none`. The official MCP client then
spawns `docker run -i --rm -v /var/run/docker.sock:/var/run/docker.sock <image>` over stdio, and
talks to a detached container over Streamable HTTP.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import docker
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp_docker_server.server import build_server
from tests.conftest import LABEL, RUN_ID, env, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
IMAGE_UID = 10001  # the Dockerfile's USER


def docker_cli(unix_host: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "-H", unix_host, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the engine is 20.10; no buildx needed
        stdin=subprocess.DEVNULL,
        check=False,
    )


def socket_path(unix_host: str) -> str:
    assert unix_host.startswith("unix://"), unix_host
    return unix_host.removeprefix("unix://")


def build_wheels(into: Path, scratch: Path) -> None:
    """This checkout's wheel and every dependency's, built by this Python (so cp311 wheels
    for the bookworm base). From a copy of what .dockerignore lets through: setuptools reuses
    a stale build/ folder in the source tree."""
    source = scratch / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(into), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{completed.stderr[-3000:]}")


@pytest.fixture(scope="module")
def server_image(
    unix_host: str, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The image, built once for this module and removed afterwards with every layer it made."""
    base = env("MCPD_TEST_BASE_IMAGE")
    probe = docker_cli(
        unix_host, "run", "--rm", "--network", "none", "--label", LABEL, base,
        "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
    )  # fmt: skip
    assert probe.returncode == 0, f"{base} does not run python3: {probe.stderr}"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if probe.stdout.strip() != here:
        pytest.fail(f"{base} has Python {probe.stdout.strip()}, the wheels are built by Python {here}")
    scratch = tmp_path_factory.mktemp("server-image")
    context = scratch / "context"
    build_wheels(context / "wheels", scratch)
    tag = f"mcpd-test-server:{RUN_ID}"
    built = docker_cli(
        unix_host, "build", "--network", "none", "--no-cache", "--force-rm",
        "--label", LABEL, "-f", str(ROOT / "Dockerfile"),
        "--build-arg", f"BASE={base}", "--build-arg", "WHEELS=wheels", "-t", tag, str(context),
        timeout=280,
    )  # fmt: skip
    layers = re.findall(r"^ ---> ([0-9a-f]{12})$", built.stdout, re.MULTILINE)
    try:
        assert built.returncode == 0, f"docker build failed:\n{built.stdout[-3000:]}\n{built.stderr[-2000:]}"
        yield tag
    finally:
        remove_build(docker_client, tag, base, layers)


def remove_build(client: docker.DockerClient, tag: str, base: str, layers: list[str]) -> None:
    """The tag takes the final stage with it; the build stage's untagged images stay behind
    unless removed one by one (children first). --no-cache made them this run's own."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag)
    keep = (client.images.get(base).id or "").removeprefix("sha256:")[:12]
    mine = [layer for layer in reversed(layers) if layer != keep]
    for layer in mine:
        try:
            if not client.images.get(layer).tags:
                client.images.remove(layer)
        except docker.errors.ImageNotFound:
            pass
    left = []
    for layer in mine:
        try:
            client.images.get(layer)
            left.append(layer)
        except docker.errors.ImageNotFound:
            pass
    assert not left, f"images of the test build left on the engine: {left}"


def stdio_params(unix_host: str, image: str, name: str, *run_options: str) -> StdioServerParameters:
    """What a user's client configuration runs: the CLI with -i (stdin open), --rm, the socket."""
    sock = socket_path(unix_host)
    args = ["-H", unix_host, "run", "-i", "--rm", "--name", name, "--label", LABEL]
    args += [*run_options, "-v", f"{sock}:/var/run/docker.sock", image]
    return StdioServerParameters(
        command="docker",
        args=args,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")},
    )


@pytest.fixture
def container_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A name for the server's container; removed afterwards whatever happened to the client."""
    name = f"mcpd-test-server-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(name).remove(force=True)


def gone(client: docker.DockerClient, name: str) -> bool:
    try:
        client.containers.get(name)
    except docker.errors.NotFound:
        return True
    return False


async def test_stdio_container_serves_this_checkouts_tools_as_non_root(
    server_image: str,
    unix_host: str,
    docker_client: docker.DockerClient,
    container_name: str,
) -> None:
    socket_gid = os.stat(socket_path(unix_host)).st_gid
    params = stdio_params(unix_host, server_image, container_name, "--group-add", str(socket_gid))
    # The default policy, as the contained server has it (settings_for enables dev-container).
    async with Client(build_server(settings_for(unix_host, MCP_DOCKER_EXPERIMENTAL_TOOLS=""))) as default:
        expected = {tool.name for tool in (await default.list_tools()).tools}
    with anyio.fail_after(60):
        async with Client(params) as contained:
            served = {tool.name for tool in (await contained.list_tools()).tools}
            listing = ok(
                await contained.call_tool("list-containers", {"label": [LABEL], "name": container_name})
            )
            # The engine it reaches is the host's: it sees its own container there.
            assert [(c["name"], c["state"]) for c in listing["containers"]] == [(container_name, "running")]
            server = docker_client.containers.get(container_name)
            uid = server.exec_run(["id", "-u"]).output
            groups = server.exec_run(["id", "-G"]).output
    assert served == expected
    assert isinstance(uid, bytes)
    assert isinstance(groups, bytes)
    assert uid.decode().strip() == str(IMAGE_UID)
    assert str(socket_gid) in groups.decode().split()
    # Closing stdin ends the server, and --rm removes its container.
    with anyio.fail_after(15):
        while not gone(docker_client, container_name):
            await anyio.sleep(0.2)


async def test_without_the_socket_group_the_non_root_server_is_refused_by_the_socket(
    server_image: str, unix_host: str, docker_client: docker.DockerClient, container_name: str
) -> None:
    """Non-root is real: the same run without --group-add starts, lists its tools, and every
    engine call says the socket refused it."""
    params = stdio_params(unix_host, server_image, container_name)
    with anyio.fail_after(60):
        async with Client(params) as contained:
            assert (await contained.list_tools()).tools
            text = error_text(await contained.call_tool("list-containers", {}))
    assert "Docker engine unreachable at unix:///var/run/docker.sock" in text
    assert "Permission denied" in text


async def test_bind_checks_follow_host_symlinks_in_folders_mounted_at_the_same_path(
    server_image: str,
    unix_host: str,
    docker_client: docker.DockerClient,
    container_name: str,
    tmp_path: Path,
    test_image: str,
) -> None:
    """In a container the server resolves bind sources in its own filesystem: a host folder
    mounted at the same path lets it see a symlink to /etc there and refuse the bind."""
    projects = tmp_path / "projects"
    projects.mkdir()
    (projects / "conf").symlink_to("/etc")
    for folder in (tmp_path, projects):
        folder.chmod(0o755)  # uid 10001 must read the link through the mount
    socket_gid = os.stat(socket_path(unix_host)).st_gid
    params = stdio_params(
        unix_host, server_image, container_name,
        "--group-add", str(socket_gid), "-v", f"{projects}:{projects}:ro",
    )  # fmt: skip
    with anyio.fail_after(60):
        async with Client(params) as contained:
            text = error_text(
                await contained.call_tool(
                    "run-container",
                    {
                        "image": test_image,
                        "command": ["true"],
                        "labels": dict([LABEL.split("=")]),
                        "volumes": [{"host_path": f"{projects}/conf", "container_path": "/x", "mode": "ro"}],
                    },
                )
            )
            # Nothing was created: the server's own container is the only labelled one.
            labelled = docker_client.containers.list(all=True, filters={"label": LABEL})
            assert [c.name for c in labelled] == [container_name]
    assert "policy rule 'sensitive-bind'" in text
    assert "resolves to /etc" in text


def test_http_on_all_interfaces_needs_the_remote_opt_in(server_image: str, unix_host: str) -> None:
    """Inside a container the server must bind 0.0.0.0 to be published, which it refuses
    unless MCP_DOCKER_ALLOW_REMOTE_HTTP=1 (exit code 2, one line naming the setting)."""
    completed = docker_cli(
        unix_host, "run", "--rm", "--label", LABEL, "--network", "none",
        "-e", "MCP_DOCKER_TRANSPORT=http", "-e", "MCP_DOCKER_HTTP_HOST=0.0.0.0", server_image,
        timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    assert "MCP_DOCKER_ALLOW_REMOTE_HTTP" in completed.stderr
    assert completed.stdout == ""


@pytest.fixture
async def http_container(
    server_image: str,
    unix_host: str,
    docker_client: docker.DockerClient,
    container_name: str,
    tmp_path: Path,
) -> tuple[str, str]:
    """The image on Streamable HTTP, published on a free loopback port: (url, token). The
    container_name fixture removes it."""
    token = "image-" + os.urandom(16).hex()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o644)  # read by uid 10001 through the bind mount
    socket_gid = os.stat(socket_path(unix_host)).st_gid
    started = docker_cli(
        unix_host, "run", "-d", "--rm", "--name", container_name, "--label", LABEL,
        "--group-add", str(socket_gid), "-v", f"{socket_path(unix_host)}:/var/run/docker.sock",
        "-v", f"{token_file}:/run/mcp-token:ro", "-p", "127.0.0.1::8000",
        "-e", "MCP_DOCKER_TRANSPORT=http", "-e", "MCP_DOCKER_HTTP_HOST=0.0.0.0",
        "-e", "MCP_DOCKER_ALLOW_REMOTE_HTTP=1", "-e", "MCP_DOCKER_HTTP_TOKEN_FILE=/run/mcp-token",
        server_image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    container = docker_client.containers.get(container_name)
    container.reload()
    published = container.ports["8000/tcp"]
    assert published, container.ports
    port = int(published[0]["HostPort"])
    deadline = time.monotonic() + 30
    while not listening(port):
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            pytest.fail(f"the HTTP server did not listen ({container.status}): {container.logs()[-2000:]!r}")
        await anyio.sleep(0.2)
    return f"http://127.0.0.1:{port}/mcp", token


def listening(port: int) -> bool:
    # docker-proxy accepts on the host port before the server inside does: ask for an answer.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"GET /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return conn.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


async def test_http_container_serves_with_its_token_only(
    http_container: tuple[str, str], container_name: str
) -> None:
    url, token = http_container
    async with httpx2.AsyncClient() as http:
        refused = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert refused.status_code == 401
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as contained,
    ):
        assert (await contained.list_tools()).tools
        listing = ok(await contained.call_tool("list-containers", {"label": [LABEL], "all": True}))
    assert container_name in [c["name"] for c in listing["containers"]]
