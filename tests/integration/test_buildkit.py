"""build-image through BuildKit (the docker CLI's buildx plugin) against the real current
engine: cache and secret mounts, heredocs, COPY --link, targets, failures, progress,
cancellation, the build options' policy, Compose builds, and the classic builder's fallback
when buildx is absent (a server whose DOCKER_CONFIG has no cli-plugins)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_docker_server.server import build_server
from tests.conftest import RUN_ID, env, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SECRET_VALUE = f"bk-secret-{RUN_ID}"


def tag_for(name: str) -> str:
    return f"mcpd-test-bk-{name}:{RUN_ID}"


@pytest.fixture(autouse=True)
def buildx_installed() -> None:
    """These tests need buildx where the docker CLI finds it (scripts/test-engine.sh links it)."""
    if not env("MCPD_TEST_BUILDX", ""):
        pytest.fail("no buildx >= 0.17: scripts/test-engine.sh up links the current suite's buildx")


@pytest.fixture
def images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


def policy_server(unix_host: str, tmp_path: Path, body: str) -> Any:
    policy = tmp_path / "policy.toml"
    policy.write_text(body)
    return build_server(settings_for(unix_host, MCP_DOCKER_POLICY_FILE=str(policy)))


async def run_output(client: Client, image: str, command: str) -> str:
    result = ok(
        await client.call_tool(
            "run-container", {"image": image, "command": command, "detach": False, "auto_remove": True}
        )
    )
    return str(result["output"])


def image_bytes(docker_client: docker.DockerClient, tag: str, folder: Path) -> bytes:
    """Every byte of the image: its config, history and layers, unpacked."""
    archive = folder / "image.tar"
    with archive.open("wb") as out:
        for chunk in docker_client.images.get(tag).save():
            out.write(chunk)
    data = archive.read_bytes()
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            stream = outer.extractfile(member)
            if stream is not None:
                data += stream.read()
    return data


async def test_cache_mount_is_reused_by_the_next_build(
    client: Client, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    # The step runs again when its inputs change (here a build argument, as a changed lock file
    # would); its cache mount keeps what the last run left (--no-cache would empty it too).
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image}\nARG SOURCE_VERSION\n"
        "RUN --mount=type=cache,target=/cache,id=mcpd-" + RUN_ID + " echo $SOURCE_VERSION; \\\n"
        "    if [ -f /cache/seed ]; then echo CACHE-HIT;\\\n"
        "    else sleep 2; echo CACHE-MISS; date > /cache/seed; fi\n"
    )
    tag = tag_for("cache")
    images.append(tag)
    timings = []
    for version in ("1", "2"):
        started = time.monotonic()
        call = {"path": str(tmp_path), "tag": tag, "build_args": {"SOURCE_VERSION": version + RUN_ID}}
        built = ok(await client.call_tool("build-image", call))
        timings.append(time.monotonic() - started)
        assert built["builder"] == "buildkit"
    assert "CACHE-HIT" in built["log_tail"], built
    print(f"cache-mount builds: first {timings[0]:.2f} s, second {timings[1]:.2f} s")
    assert timings[1] < timings[0]


async def test_secret_mount_is_usable_and_absent_from_the_image(
    client: Client, tmp_path: Path, test_image: str, images: list[str], docker_client: docker.DockerClient
) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "token.txt").write_text(SECRET_VALUE)
    digest = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()  # the value itself stays out
    (tmp_path / "ctx" / "Dockerfile").write_text(
        f"FROM {test_image}\n"
        "RUN --mount=type=secret,id=tok,required=true "
        f"sha256sum /run/secrets/tok | grep -q {digest} && echo secret-was-readable > /proof\n"
    )
    tag = tag_for("secret")
    images.append(tag)
    result = await client.call_tool(
        "build-image",
        {"path": str(tmp_path / "ctx"), "tag": tag, "secrets": {"tok": str(tmp_path / "token.txt")}},
    )
    built = ok(result)
    assert SECRET_VALUE not in str(result.content)
    assert SECRET_VALUE not in str(built)
    assert "secret-was-readable" in await run_output(client, tag, "cat /proof")
    assert "No such file" in await run_output(client, tag, "sh -c 'cat /run/secrets/tok 2>&1; true'")
    history = docker_client.images.get(tag).history()
    assert SECRET_VALUE not in str(history)
    assert SECRET_VALUE.encode() not in image_bytes(docker_client, tag, tmp_path)


async def test_secret_from_an_allowed_server_variable(
    unix_host: str, tmp_path: Path, test_image: str, images: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPD_BUILD_TOKEN", SECRET_VALUE)
    digest = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(
        f"FROM {test_image}\n"
        f"RUN --mount=type=secret,id=tok,required=true sha256sum /run/secrets/tok | grep -q {digest}\n"
    )
    tag = tag_for("secret-env")
    images.append(tag)
    server = policy_server(unix_host, tmp_path, 'secret_env_allowlist = ["MCPD_BUILD_TOKEN"]\n')
    context = str(tmp_path / "ctx")
    async with Client(server) as client:
        ok(
            await client.call_tool(
                "build-image", {"path": context, "tag": tag, "secrets": {"tok": "env:MCPD_BUILD_TOKEN"}}
            )
        )
        refused = error_text(
            await client.call_tool(
                "build-image",
                {"path": context, "tag": tag, "secrets": {"tok": "env:REGISTRY_PASSWORD"}},
            )
        )
    assert "never goes into a build" in refused


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"secrets": {"tok": "env:HOME"}}, "secret_env_allowlist"),
        ({"secrets": {"tok": "/etc/shadow"}}, "policy rule"),
        ({"secrets": {"tok": "~/.ssh/id_ed25519"}}, "policy rule"),
        ({"secrets": {"bad id": "x"}}, "not one BuildKit accepts"),
        ({"ssh": True}, "allow_build_ssh"),
        ({"network": "host"}, "allow_build_host_network"),
        ({"cache_to": ["type=gha"]}, "cache type 'gha'"),
        ({"cache_from": ["type=s3,bucket=b"]}, "cache type 's3'"),
        ({"cache_to": ["type=local,dest=/etc/cache"]}, "policy rule"),
        ({"cache_from": ["type=local,src=/var/lib/docker"]}, "policy rule"),
        ({"cache_from": ["src=/tmp"]}, "has no type"),
    ],
)
async def test_build_options_are_judged_before_any_work(
    client: Client, tmp_path: Path, test_image: str, options: dict[str, Any], expected: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n")
    tag = tag_for("judged")
    text = error_text(await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag, **options}))
    assert expected in text, text


async def test_heredoc_copy_link_and_a_multi_stage_target(
    client: Client, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    (tmp_path / "a.txt").write_text("linked\n")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image} AS base\n"
        "COPY --link a.txt /a.txt\n"
        "RUN <<EOT\n"
        "echo from-heredoc > /heredoc\n"
        "EOT\n"
        "FROM base AS failing\n"
        "RUN exit 9\n"
        "FROM base AS chosen\n"
        "RUN echo chosen > /stage\n"
    )
    tag = tag_for("heredoc")
    images.append(tag)
    built = ok(await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag, "target": "chosen"}))
    assert built["builder"] == "buildkit"
    assert built["steps"] >= 3
    output = await run_output(client, tag, "cat /a.txt /heredoc /stage")
    assert output.split() == ["linked", "from-heredoc", "chosen"]


async def test_failing_step_is_named_with_its_output(client: Client, tmp_path: Path, test_image: str) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN echo fine\nRUN echo about-to-fail && echo oops >&2 && exit 3\n"
    )
    text = error_text(await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag_for("fail")}))
    assert "Build failed at [3/3] RUN echo about-to-fail" in text
    assert "exit code: 3" in text
    assert "oops" in text
    assert "about-to-fail" in text


async def test_syntax_directive_without_a_registry_says_how_to_build(
    client: Client, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"# syntax=docker/dockerfile:1\nFROM {test_image}\nRUN echo x\n")
    text = error_text(
        await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag_for("syntax")})
    )
    assert "frontend image docker/dockerfile:1" in text
    assert "remove the `# syntax=` line" in text


async def test_progress_follows_the_build_graph_at_least_once_a_second(
    client: Client, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN echo a\nRUN sleep 3\nRUN echo b > /b\nCOPY Dockerfile /\n"
    )
    tag = tag_for("progress")
    images.append(tag)
    stamps: list[tuple[float, float, float | None, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        stamps.append((time.monotonic(), progress, total, message or ""))

    ok(
        await client.call_tool(
            "build-image",
            {"path": str(tmp_path), "tag": tag, "no_cache": True},
            progress_callback=on_progress,
        )
    )
    assert any("RUN sleep 3" in m for *_, m in stamps), stamps
    assert all(total is not None and done <= total for _, done, total, _ in stamps[1:])
    gaps = [later - earlier for (earlier, *_), (later, *_) in itertools.pairwise(stamps)]
    rate = len(stamps) / (stamps[-1][0] - stamps[0][0])
    print(f"progress: {len(stamps)} notifications, {rate:.1f}/s, longest gap {max(gaps):.2f} s")
    assert max(gaps) < 1.6, gaps


def _sleeping(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


async def test_cancel_stops_the_build_within_two_seconds_and_serves_other_calls(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    seconds = 3000 + int(RUN_ID[:4], 16) % 1000
    marker = f"sleep {seconds}"
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo one\nRUN {marker}\nRUN echo done\n")
    tag = tag_for("cancel")
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: client.call_tool("build-image", {"path": str(tmp_path), "tag": tag, "no_cache": True})
        )
        with anyio.fail_after(30):
            while not _sleeping(marker):
                await anyio.sleep(0.1)
        ok(await client.call_tool("list-containers", {}))  # served while the build runs
        group.cancel_scope.cancel()
    cancelled = time.monotonic()
    with anyio.fail_after(10):
        while _sleeping(marker):
            await anyio.sleep(0.05)
    assert time.monotonic() - cancelled <= 2.0
    assert not _sleeping(f"buildx build .*{tag}")
    assert not docker_client.images.list(name=tag.split(":")[0])
    ok(await client.call_tool("list-containers", {}))


async def test_deadline_stops_the_build(client: Client, tmp_path: Path, test_image: str) -> None:
    marker = f"sleep {4000 + int(RUN_ID[:4], 16) % 1000}"
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN {marker}\n")
    started = time.monotonic()
    text = error_text(
        await client.call_tool(
            "build-image", {"path": str(tmp_path), "tag": tag_for("deadline"), "no_cache": True, "timeout": 3}
        )
    )
    assert "did not finish within 3 s" in text
    assert time.monotonic() - started < 10
    assert not _sleeping(marker)


async def test_compose_builds_with_buildkit_under_the_same_rules(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    project = f"mcpdbk{RUN_ID}"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        f"FROM {test_image}\n"
        "RUN --mount=type=cache,target=/c echo built-with-buildkit > /proof\n"
        'CMD ["sleep", "300"]\n'
    )
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"name: {project}\nservices:\n  app:\n    build: ./app\n    stop_grace_period: 1s\n")
    try:
        ok(
            await client.call_tool(
                "compose-stack", {"compose_file": str(compose), "action": "up", "build": True}
            )
        )
        container = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})[
            0
        ]
        assert b"built-with-buildkit" in container.exec_run("cat /proof").output
    finally:
        ok(await client.call_tool("compose-stack", {"compose_file": str(compose), "action": "down"}))
    for extra, expected in [
        ("    build:\n      context: ./app\n      ssh: [default]\n", "allow_build_ssh"),
        ("    build:\n      context: ./app\n      network: host\n", "allow_build_host_network"),
        ("    build:\n      context: ./app\n      cache_to: [type=gha]\n", "cache type 'gha'"),
        (
            "    build:\n      context: ./app\n      cache_to: ['type=registry,ref=evil.example/c']\n",
            "evil.example",
        ),
    ]:
        compose.write_text(f"name: {project}\nservices:\n  app:\n{extra}")
        text = error_text(
            await client.call_tool("compose-stack", {"compose_file": str(compose), "action": "build"})
        )
        assert expected in text, text
    compose.write_text(
        f"name: {project}\nservices:\n  app:\n    image: {test_image}\n    secrets: [tok]\n"
        "secrets:\n  tok:\n    environment: HOME\n"
    )
    text = error_text(await client.call_tool("compose-stack", {"compose_file": str(compose), "action": "up"}))
    assert "secret_env_allowlist" in text


async def test_without_buildx_the_classic_builder_builds_and_says_so(
    classic_client: Client, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo classic > /c\n")
    tag = tag_for("classic")
    images.append(tag)
    built = ok(await classic_client.call_tool("build-image", {"path": str(tmp_path), "tag": tag}))
    assert built["builder"] == "classic"
    assert "buildx is not usable here" in built["note"]
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN --mount=type=cache,target=/c echo hi\n")
    text = error_text(await classic_client.call_tool("build-image", {"path": str(tmp_path), "tag": tag}))
    assert "line 2 uses RUN --mount" in text
    assert "install buildx" in text
    text = error_text(
        await classic_client.call_tool(
            "build-image", {"path": str(tmp_path), "tag": tag, "secrets": {"a": "Dockerfile"}}
        )
    )
    assert "secrets need BuildKit" in text


async def test_dockerfile_specific_ignore_file_is_the_one_judged(
    client: Client, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /ctx\n")
    (tmp_path / ".dockerignore").write_text(".env\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("*.log\n")  # BuildKit reads this one instead
    (tmp_path / ".env").write_text("API_TOKEN=abc\n")
    text = error_text(
        await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag_for("ignore")})
    )
    assert "'secret-files'" in text
    assert ".env" in text


def test_buildx_is_on_the_cli_path() -> None:
    done = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True, env=os.environ)
    assert done.returncode == 0
    assert "buildx" in done.stdout


def test_doctor_names_a_buildx_too_old_for_compose(tmp_path: Path, unix_host: str) -> None:
    """A buildx older than 0.17 (trixie's 0.13) breaks every Compose build: doctor says so."""
    plugins = tmp_path / "cli-plugins"
    plugins.mkdir()
    fake = plugins / "docker-buildx"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = docker-cli-plugin-metadata ]; then\n'
        '  echo \'{"SchemaVersion":"0.1.0","Vendor":"Docker Inc.","Version":"v0.13.1"}\'; exit 0\n'
        "fi\n"
        "echo 'github.com/docker/buildx 0.13.1 0.13.1-0'\n"
    )
    fake.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "mcp_docker_server", "doctor"],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": unix_host},
        timeout=60,
    )
    assert "buildx 0.13.1 is older than 0.17: Compose builds fail with it" in done.stdout, done.stdout


async def test_a_registry_cache_export_asks_first_and_a_no_builds_nothing(
    unix_host: str, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # cache_to type=registry pushes the build's layers (the files it copied) to that registry:
    # a push, asked like image-operations push, naming where they go.
    asked: list[str] = []

    async def no(context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY Dockerfile /\n")
    tag = tag_for("cachepush")
    options = {"path": str(tmp_path), "tag": tag, "cache_to": ["type=registry,ref=evil.example:5000/team/c"]}
    async with Client(build_server(settings_for(unix_host)), elicitation_callback=no) as client:
        text = error_text(await client.call_tool("build-image", options))
    assert asked == [f"push the build cache of {tag} to registry evil.example:5000, repository team/c"]
    assert "did not confirm" in text
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(tag)
