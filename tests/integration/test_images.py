"""build-image and image-operations against the real engine and a real registry with auth."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

USER, PASSWORD = "tester", "s3cret-" + RUN_ID


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry with htpasswd auth on loopback (the engine trusts 127.0.0.0/8)."""
    binary, htpasswd = shutil.which("docker-registry"), shutil.which("htpasswd")
    if not binary or not htpasswd:
        pytest.fail("docker-registry and htpasswd are missing: scripts/test-engine.sh up installs them")
    root = tmp_path_factory.mktemp("registry")
    hashed = subprocess.run(
        [htpasswd, "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
    ).stdout
    (root / "htpasswd").write_text(hashed)
    port = _free_port()
    config = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": f"{root}/data"}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
        "auth": {"htpasswd": {"realm": "basic-realm", "path": f"{root}/htpasswd"}},
    }
    (root / "config.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def build_dir(tmp_path: Path, test_image: str) -> Path:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image} AS base\n"
        "ARG GREETING=unset\n"
        'RUN echo "$GREETING" > /greeting\n'
        "COPY . /ctx\n"
        "FROM base AS failing\n"
        "RUN echo about-to-fail && echo oops >&2 && exit 3\n"
        "FROM base AS final\n"
        "RUN echo final > /stage\n"
    )
    (tmp_path / "kept.txt").write_text("kept\n")
    (tmp_path / "secret.env").write_text("TOKEN=never-in-the-image\n")
    (tmp_path / ".dockerignore").write_text("secret.env\n")
    return tmp_path


@pytest.fixture
def image_cleanup(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


def tag_for(name: str) -> str:
    return f"mcpd-test-{name}:{RUN_ID}"


async def run_output(client: Client, image: str, command: str) -> str:
    result = ok(
        await client.call_tool(
            "run-container",
            {
                "image": image,
                "command": command,
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    return str(result["output"])


async def test_multi_stage_build_with_args_target_and_dockerignore(
    builder: str, builder_client: Client, client: Client, build_dir: Path, image_cleanup: list[str]
) -> None:
    tag = tag_for("base")
    image_cleanup.append(tag)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    built = ok(
        await builder_client.call_tool(
            "build-image",
            {
                "path": str(build_dir),
                "tag": tag,
                "target": "base",
                "build_args": {"GREETING": "hey"},
                "labels": {LABEL_KEY: RUN_ID},
            },
            progress_callback=on_progress,
        )
    )
    assert built["tags"] == [tag]
    assert built["builder"] == builder
    assert built["steps"] >= (4 if builder == "classic" else 3)  # BuildKit: ARG is no step
    if builder == "classic":
        assert "Successfully tagged" in built["log_tail"]
    assert seen
    output = await run_output(client, tag, "sh -c 'cat /greeting; ls /ctx; ls /stage 2>&1 || true'")
    assert output.splitlines()[0] == "hey"
    assert "kept.txt" in output
    assert "secret.env" not in output  # .dockerignore honoured
    assert "No such file" in output  # the later stage was not built into it
    cached = ok(
        await builder_client.call_tool(
            "build-image",
            {
                "path": str(build_dir),
                "tag": tag,
                "target": "base",
                "build_args": {"GREETING": "hey"},
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    assert cached["cached_steps"] >= 2
    fresh = ok(
        await builder_client.call_tool(
            "build-image",
            {
                "path": str(build_dir),
                "tag": tag,
                "target": "base",
                "build_args": {"GREETING": "hey"},
                "labels": {LABEL_KEY: RUN_ID},
                "no_cache": True,
            },
        )
    )
    assert fresh["cached_steps"] == 0


async def test_failing_step_says_which_step_and_what_it_printed(
    builder: str, builder_client: Client, build_dir: Path, docker_client: docker.DockerClient
) -> None:
    text = error_text(
        await builder_client.call_tool(
            "build-image", {"path": str(build_dir), "tag": tag_for("fail"), "target": "failing"}
        )
    )
    if builder == "classic":
        assert "Build failed at step 6/6" in text
        assert "exit 3" in text
    else:
        assert "Build failed at [failing 1/1] RUN echo about-to-fail" in text
        assert "exit code: 3" in text
    assert "oops" in text
    assert "about-to-fail" in text
    assert not docker_client.containers.list(all=True, filters={"status": "created"})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"path": "/nonexistent/ctx"}, "is not a directory"),
        ({"dockerfile": "Missing.Dockerfile"}, "Dockerfile not found"),
        ({"target": "nope"}, "Unknown target 'nope'"),
        ({"tag": "Bad Tag"}, "Invalid image reference"),
    ],
)
async def test_build_errors_before_any_work(
    client: Client, build_dir: Path, args: dict[str, Any], expected: str
) -> None:
    call = {"path": str(build_dir), "tag": tag_for("bad"), **args}
    assert expected in error_text(await client.call_tool("build-image", call))


async def test_buildkit_only_dockerfile_gets_a_clear_message_without_buildx(
    classic_client: Client, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN --mount=type=cache,target=/c echo hi\n")
    text = error_text(
        await classic_client.call_tool("build-image", {"path": str(tmp_path), "tag": tag_for("bk")})
    )
    assert "line 2 uses RUN --mount" in text
    assert "BuildKit" in text


async def test_oversized_context_is_refused_with_the_dockerignore_fix(
    unix_host: str, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n")
    (tmp_path / "bulk").mkdir()
    (tmp_path / "bulk" / "blob.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    settings = settings_for(unix_host, MCP_DOCKER_MAX_BUILD_CONTEXT_MB="1")
    async with Client(build_server(settings)) as client:
        text = error_text(
            await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag_for("big")})
        )
    assert "is 2 MiB (limit 1 MiB)" in text
    assert "bulk (2 MiB)" in text
    assert ".dockerignore" in text


def _step_containers(docker_client: docker.DockerClient, marker: str) -> list[Any]:
    # sparse: the list's own Command field; inspecting each container races with the builder,
    # which removes its step containers between the list and the inspect (a 404).
    listed = docker_client.containers.list(all=True, sparse=True)
    return [c for c in listed if marker in str(c.attrs.get("Command"))]


async def test_cancelled_classic_build_stops_within_two_seconds_and_leaves_nothing(
    classic_client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    client = classic_client  # BuildKit's cancellation: tests/integration/test_buildkit.py
    marker = f"sleep 60 # {RUN_ID}"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN echo one > /a\nRUN echo two > /b\nRUN {marker}\nRUN echo done\n"
    )
    before_dangling = {i.id for i in docker_client.images.list(filters={"dangling": True})}
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: client.call_tool(
                "build-image", {"path": str(tmp_path), "tag": tag_for("slow"), "no_cache": True}
            )
        )
        with anyio.fail_after(30):
            while not _step_containers(docker_client, marker):
                await anyio.sleep(0.1)
        group.cancel_scope.cancel()
    cancelled_at = time.monotonic()
    with anyio.fail_after(10):
        while _step_containers(docker_client, marker):
            await anyio.sleep(0.1)
    assert time.monotonic() - cancelled_at <= 2.0
    await anyio.sleep(1)  # the server drops the committed layers right after the stop
    dangling = {i.id for i in docker_client.images.list(filters={"dangling": True})} - before_dangling
    assert dangling == set()
    assert not docker_client.images.list(name=tag_for("slow").split(":")[0])


async def test_classic_build_reports_progress_at_least_once_a_second(
    classic_client: Client, tmp_path: Path, test_image: str, image_cleanup: list[str]
) -> None:
    client = classic_client  # BuildKit's progress: tests/integration/test_buildkit.py
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo a\nRUN sleep 3\nRUN echo b\n")
    tag = tag_for("progress")
    image_cleanup.append(tag)
    stamps: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        stamps.append((time.monotonic(), message))

    ok(
        await client.call_tool(
            "build-image",
            {"path": str(tmp_path), "tag": tag, "no_cache": True},
            progress_callback=on_progress,
        )
    )
    assert len(stamps) >= 4, stamps
    assert any("Step 3/4" in (m or "") for _, m in stamps)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(stamps)]
    assert max(gaps) < 1.6, gaps


async def test_list_call_answers_promptly_during_a_long_build(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN sleep 6\n")
    idle_started = time.monotonic()
    ok(await client.call_tool("list-containers", {}))
    idle = time.monotonic() - idle_started
    during: list[float] = []
    async with anyio.create_task_group() as group:

        async def long_build() -> None:
            ok(
                await client.call_tool(
                    "build-image", {"path": str(tmp_path), "tag": tag_for("busy"), "no_cache": True}
                )
            )

        group.start_soon(long_build)
        await anyio.sleep(1.5)
        for _ in range(5):
            started = time.monotonic()
            ok(await client.call_tool("list-containers", {}))
            during.append(time.monotonic() - started)
    docker_client.images.remove(tag_for("busy"), force=True)
    assert max(during) < 1.0, (idle, during)


async def test_image_read_actions(client: Client, test_image: str, image_cleanup: list[str]) -> None:
    listed = ok(
        await client.call_tool("image-operations", {"image": test_image.split(":")[0], "action": "list"})
    )
    assert any(test_image in row["tags"] for row in listed["images"])
    inspected = ok(await client.call_tool("image-operations", {"image": test_image, "action": "inspect"}))
    assert inspected["image"]["cmd"] == ["sh"]
    assert inspected["image"]["env"] == {"PATH": "***"}
    history = ok(await client.call_tool("image-operations", {"image": test_image, "action": "history"}))
    assert any("busybox" in row["created_by"] for row in history["history"])
    copy = tag_for("copy")
    image_cleanup.append(copy)
    tagged = ok(
        await client.call_tool("image-operations", {"image": test_image, "action": "tag", "new_tag": copy})
    )
    assert copy in tagged["image"]["tags"]
    removed = ok(await client.call_tool("image-operations", {"image": copy, "action": "remove"}))
    assert removed["removed"] == [copy]
    missing = error_text(
        await client.call_tool("image-operations", {"image": "mcpd-none:1", "action": "inspect"})
    )
    assert "No such image" in missing


async def push(client: Client, ref: str, **args: Any) -> Any:
    return await client.call_tool("image-operations", {"image": ref, "action": "push", **args})


async def test_push_needs_credentials_and_takes_them_from_every_source(
    unix_host: str,
    client: Client,
    registry: Registry,
    test_image: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    image_cleanup: list[str],
) -> None:
    ref = f"{registry.host}/mcpd/app:{RUN_ID}"
    image_cleanup.append(ref)
    ok(await client.call_tool("image-operations", {"image": test_image, "action": "tag", "new_tag": ref}))

    denied = error_text(await push(client, ref))
    assert "no basic auth credentials" in denied
    assert "REGISTRY_USERNAME" in denied

    wrong = error_text(await push(client, ref, auth={"username": USER, "password": "wrong-password"}))
    assert "Push of" in wrong
    assert "wrong-password" not in wrong

    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    pushed = await client.call_tool(
        "image-operations",
        {"image": ref, "action": "push", "auth": {"username": USER, "password": PASSWORD}},
        progress_callback=on_progress,
    )
    assert ok(pushed)["digest"].startswith("sha256:")
    assert PASSWORD not in str(pushed.content) + str(pushed.structured_content)
    assert seen

    env_settings = settings_for(
        unix_host, REGISTRY_USERNAME=USER, REGISTRY_PASSWORD=PASSWORD, REGISTRY_SERVER=registry.host
    )
    async with Client(build_server(env_settings), elicitation_callback=accept_all) as env_client:
        assert ok(await push(env_client, ref))["digest"].startswith("sha256:")

    config = tmp_path / "config.json"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    file_settings = settings_for(unix_host, REGISTRY_AUTH_CONFIG=str(config))
    async with Client(build_server(file_settings), elicitation_callback=accept_all) as file_client:
        assert ok(await push(file_client, ref))["digest"].startswith("sha256:")


async def test_remove_then_pull_back_by_tag_and_by_digest(
    client: Client,
    registry: Registry,
    test_image: str,
    docker_client: docker.DockerClient,
    image_cleanup: list[str],
) -> None:
    ref = f"{registry.host}/mcpd/roundtrip:{RUN_ID}"
    image_cleanup.append(ref)
    auth = {"username": USER, "password": PASSWORD}
    ok(await client.call_tool("image-operations", {"image": test_image, "action": "tag", "new_tag": ref}))
    digest = ok(await push(client, ref, auth=auth))["digest"]
    ok(await client.call_tool("image-operations", {"image": ref, "action": "remove"}))
    assert not docker_client.images.list(name=ref)
    pulled = ok(await client.call_tool("image-operations", {"image": ref, "action": "pull", "auth": auth}))
    assert ref in pulled["image"]["tags"]
    assert pulled["digest"] == digest
    by_digest = f"{registry.host}/mcpd/roundtrip@{digest}"
    again = ok(
        await client.call_tool("image-operations", {"image": by_digest, "action": "pull", "auth": auth})
    )
    assert again["image"]["id"] == pulled["image"]["id"]
    registry_arg = ok(
        await client.call_tool(
            "image-operations",
            {"image": f"mcpd/roundtrip:{RUN_ID}", "action": "pull", "registry": registry.host, "auth": auth},
        )
    )
    assert registry_arg["image"]["id"] == pulled["image"]["id"]


async def test_pull_from_an_unreachable_registry_fails_in_time(client: Client) -> None:
    port = _free_port()  # nothing listens there
    with anyio.fail_after(30):
        text = error_text(
            await client.call_tool(
                "image-operations", {"image": f"127.0.0.1:{port}/nothing:1", "action": "pull", "timeout": 20}
            )
        )
    assert "Pull of" in text
    assert "cannot be reached" in text
