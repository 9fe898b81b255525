"""compose-stack watch/unwatch: the server's own `docker compose watch`, on the real Compose v2
and the real engine (BuildKit builds through the buildx plugin)."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import LoggingMessageNotificationParams

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

DOCKERFILE = """\
FROM {image}
COPY manifest.txt /manifest.txt
COPY src /app/src
"""

COMPOSE = """\
services:
  app:
    build: .
    image: mcpd-test-watch:{run}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    labels:
      {label_key}: "{run}"
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app/src
        - action: rebuild
          path: ./manifest.txt
"""


@pytest.fixture
def watch_dir(tmp_path: Path, test_image: str) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.txt").write_text("v0\n")
    (tmp_path / "manifest.txt").write_text("manifest-1\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(image=test_image))
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(run=RUN_ID, label_key=LABEL_KEY))
    return tmp_path


@pytest.fixture
def cleanup(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Projects named here are taken down after the test, and any watch of theirs killed."""
    projects: list[str] = []
    yield projects
    for project in projects:
        for pid in watch_processes(project):
            os.kill(pid, signal.SIGKILL)
        for container in docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}
        ):
            container.remove(force=True)
        for network in docker_client.networks.list(
            filters={"label": f"com.docker.compose.project={project}"}
        ):
            network.remove()
    for image in docker_client.images.list(name="mcpd-test-watch"):
        docker_client.images.remove(str(image.id), force=True)


def watch_processes(project: str) -> list[int]:
    """Every process on this host running `compose ... watch` for ``project`` (the docker CLI
    and its Compose plugin both carry the arguments)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"watch" in args and project.encode() in args:
            found.append(int(entry.name))
    return found


async def compose(client: Client, file: Path, action: str, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("compose-stack", {"compose_file": str(file), "action": action, **args}))


def read_in(docker_client: docker.DockerClient, container: str, path: str) -> str:
    code, output = docker_client.containers.get(container).exec_run(["cat", path])
    assert isinstance(output, bytes)
    return output.decode() if code == 0 else ""


def wait_for(check: Any, timeout: float) -> float:
    """Seconds until ``check()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


async def test_watch_syncs_edits_rebuilds_on_the_manifest_and_unwatch_leaves_no_process(
    unix_host: str, watch_dir: Path, docker_client: docker.DockerClient, unique_name: str, cleanup: list[str]
) -> None:
    project = unique_name
    cleanup.append(project)
    file = watch_dir / "compose.yaml"
    logged: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logged.append(params)

    server = build_server(settings_for(unix_host))
    async with Client(
        # A handshake-era client: connection-wide log notifications exist there (2026-07-28
        # made logging request-scoped; there the status is read with action=ps).
        server,
        elicitation_callback=accept_all,
        logging_callback=on_log,
        mode="legacy",
    ) as client:
        started = await compose(client, file, "watch", project_name=project)
        assert started["watch"]["state"] == "running"
        assert started["watch"]["services"] == ["app"]
        assert [row["state"] for row in started["services"]] == ["running"]
        assert len(watch_processes(project)) >= 1
        container = f"{project}-app-1"
        first_id = docker_client.containers.get(container).id

        def synced(text: str) -> float:
            return wait_for(lambda: read_in(docker_client, container, "/app/src/index.txt") == text, 3)

        latencies = []
        for n in range(10):  # the time from the write on the host to the text in the container
            (watch_dir / "src" / "index.txt").write_text(f"edit-{n}\n")
            latencies.append(await anyio.to_thread.run_sync(synced, f"edit-{n}\n"))
        median = statistics.median(latencies)
        print(f"\nsync latency over 10 edits: median {median:.3f} s, max {max(latencies):.3f} s")
        assert median < 3

        again = await compose(client, file, "watch", project_name=project)  # never two
        assert "Already watching" in again["note"]

        (watch_dir / "manifest.txt").write_text("manifest-2\n")

        def rebuilt() -> bool:
            try:
                current = docker_client.containers.get(container)
            except docker.errors.NotFound:
                return False
            return current.id != first_id and current.status == "running"

        await anyio.to_thread.run_sync(lambda: wait_for(rebuilt, 90))
        assert read_in(docker_client, container, "/manifest.txt") == "manifest-2\n"

        status = (await compose(client, file, "ps", project_name=project))["watch"]
        kinds = [event["kind"] for event in status["events"]]
        assert {"sync", "rebuild", "built"} <= set(kinds), status
        assert status["state"] == "running"
        assert any(p.logger == "compose-watch" for p in logged), logged

        stopped = await compose(client, file, "unwatch", project_name=project)
        assert stopped["watch"]["state"] == "stopped"
        assert watch_processes(project) == []
        assert (await compose(client, file, "ps", project_name=project))["watch"] is None
        assert docker_client.containers.get(container).status == "running"  # unwatch keeps the stack
        (watch_dir / "src" / "index.txt").write_text("after-unwatch\n")
        await anyio.sleep(1.5)
        assert read_in(docker_client, container, "/app/src/index.txt") == "edit-9\n"
        await compose(client, file, "down", project_name=project)


async def test_down_stops_the_watch_and_concurrent_watches_start_one(
    client: Client, watch_dir: Path, docker_client: docker.DockerClient, unique_name: str, cleanup: list[str]
) -> None:
    project = unique_name
    cleanup.append(project)
    file = watch_dir / "compose.yaml"
    results: list[dict[str, Any]] = []

    async def start() -> None:
        results.append(await compose(client, file, "watch", project_name=project))

    async with anyio.create_task_group() as group:
        group.start_soon(start)
        group.start_soon(start)
    assert sorted(r.get("note", "").startswith("Already watching") for r in results) == [False, True]
    leaders = {pid for pid in watch_processes(project) if os.getpgid(pid) == pid}
    assert len(leaders) == 1, leaders  # one watch process group

    # No project name: the watch is found from the same compose file.
    assert (await compose(client, file, "ps"))["watch"]["project"] == project

    down = await compose(client, file, "down", project_name=project)
    assert down["services"] == []
    assert watch_processes(project) == []
    assert (
        docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        == []
    )
    nothing = await compose(client, file, "unwatch", project_name=project)
    assert "No watch runs" in nothing["note"]


async def test_a_watched_sensitive_folder_is_refused_with_nothing_created(
    client: Client, watch_dir: Path, docker_client: docker.DockerClient, unique_name: str, cleanup: list[str]
) -> None:
    cleanup.append(unique_name)
    file = watch_dir / "compose.yaml"
    file.write_text(
        file.read_text().replace(
            "path: ./src\n          target: /app/src", "path: /etc\n          target: /app/etc"
        )
    )
    result = await client.call_tool(
        "compose-stack", {"compose_file": str(file), "action": "watch", "project_name": unique_name}
    )
    text = error_text(result)
    assert "develop.watch[0]" in text, text
    assert "watched folder /etc" in text, text
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={unique_name}"}
        )
        == []
    )
    assert watch_processes(unique_name) == []


async def test_a_project_without_develop_watch_gets_what_to_add(
    client: Client, watch_dir: Path, docker_client: docker.DockerClient, unique_name: str, cleanup: list[str]
) -> None:
    cleanup.append(unique_name)
    file = watch_dir / "compose.yaml"
    file.write_text(COMPOSE.format(run=RUN_ID, label_key=LABEL_KEY).split("    develop:")[0])
    text = error_text(
        await client.call_tool(
            "compose-stack", {"compose_file": str(file), "action": "watch", "project_name": unique_name}
        )
    )
    assert "No service of this project has a develop.watch section" in text
    assert "action: sync" in text, text
    assert "action: rebuild" in text, text
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={unique_name}"}
        )
        == []
    )


async def test_a_root_sync_exec_is_refused_under_a_policy_without_root_exec(
    unix_host: str,
    watch_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    cleanup.append(unique_name)
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    policy.write_text("allow_root_exec = false\n")
    file = watch_dir / "compose.yaml"
    file.write_text(
        file.read_text()
        + textwrap.indent(
            '- action: sync+exec\n  path: ./src\n  target: /app/other\n  exec:\n    command: ["true"]\n',
            " " * 8,
        )
    )
    server = build_server(settings_for(unix_host, MCP_DOCKER_POLICY_FILE=str(policy)))
    async with Client(server, elicitation_callback=accept_all) as client:
        text = error_text(
            await client.call_tool(
                "compose-stack", {"compose_file": str(file), "action": "watch", "project_name": unique_name}
            )
        )
    assert "develop.watch sync+exec" in text, text
    assert "allow_root_exec" in text, text
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={unique_name}"}
        )
        == []
    )
    assert watch_processes(unique_name) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_watch_outlives_its_session_and_ends_with_the_server(
    unix_host: str,
    watch_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    unique_name: str,
    cleanup: list[str],
) -> None:
    """Over HTTP a client that reconnects finds the watch running; the server stops it (every
    process of it) when it exits."""
    project = unique_name
    cleanup.append(project)
    file = watch_dir / "compose.yaml"
    port, token = free_port(), "t-" + os.urandom(8).hex()
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "mcp_docker_server", "--transport", "http", "--port", str(port)],
        env={**os.environ, "DOCKER_HOST": unix_host, "MCP_DOCKER_HTTP_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not listen"
            await anyio.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http), elicitation_callback=accept_all) as first,
        ):
            assert (await compose(first, file, "watch", project_name=project))["watch"]["state"] == "running"
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http)) as second,
        ):
            status = (await compose(second, file, "ps", project_name=project))["watch"]
            assert status["state"] == "running"
            assert watch_processes(project)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert await anyio.to_thread.run_sync(lambda: wait_for(lambda: not watch_processes(project), 10)) < 10
    assert "compose watch of" in log.read_text()


async def test_a_sync_exec_hook_runs_after_each_sync(
    client: Client, watch_dir: Path, docker_client: docker.DockerClient, unique_name: str, cleanup: list[str]
) -> None:
    project = unique_name
    cleanup.append(project)
    file = watch_dir / "compose.yaml"
    hook = """\
- action: sync+exec
  path: ./src
  target: /app/src
  exec:
    command: ["sh", "-c", "cp /app/src/index.txt /app/hooked"]
"""
    file.write_text(file.read_text().split("        - action: sync\n")[0] + textwrap.indent(hook, " " * 8))
    started = await compose(client, file, "watch", project_name=project)
    assert started["watch"]["state"] == "running"
    (watch_dir / "src" / "index.txt").write_text("hooked\n")
    container = f"{project}-app-1"
    await anyio.to_thread.run_sync(
        lambda: wait_for(lambda: read_in(docker_client, container, "/app/hooked") == "hooked\n", 10)
    )
    await compose(client, file, "down", project_name=project)
    assert watch_processes(project) == []
