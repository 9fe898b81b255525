"""dev-container on the real Dev Containers CLI (the pinned @devcontainers/cli) and the real
engine: image-, Dockerfile- and Compose-based configurations, offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL, error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

FOLDER_LABEL = "devcontainer.local_folder"
# busybox:local has no /etc/passwd: the CLI's probes run as a user it must find, so the image
# configurations name root by uid; the Dockerfile one adds the passwd entry instead.
DOCKERFILE = 'FROM {image}\nRUN echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd && mkdir -p /root\n'
COMPOSE = """\
services:
  dev:
    image: {image}
    user: "0"
    command: ["sh", "-c", "trap 'exit 0' TERM; while sleep 1; do :; done"]
    labels:
      {label_key}: "{label_value}"
    volumes:
      - ..:/workspace
"""


def write_project(folder: Path, config: dict[str, Any], files: dict[str, str] | None = None) -> str:
    """A project folder with .devcontainer/devcontainer.json (plus ``files`` beside it); every
    container carries the test run's label, so the session's leak check covers it."""
    if "dockerComposeFile" not in config:
        config = {**config, "runArgs": ["--label", LABEL, *config.get("runArgs", [])]}
    (folder / ".devcontainer").mkdir(parents=True, exist_ok=True)
    (folder / ".devcontainer" / "devcontainer.json").write_text(json.dumps(config))
    for name, text in (files or {}).items():
        (folder / ".devcontainer" / name).write_text(text)
    return str(folder)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def image_config(image: str, **extra: Any) -> dict[str, Any]:
    return {"image": image, "containerUser": "0", "remoteUser": "0", **extra}


def containers_of(docker_client: docker.DockerClient, folder: str) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"label": f"{FOLDER_LABEL}={folder}"})


def built_images(docker_client: docker.DockerClient, folder: str) -> list[str]:
    """The images the CLI built for ``folder`` (it names them vsc-<folder name>-<hash>)."""
    prefix = f"vsc-{Path(folder).name.lower()}-"
    return [t for image in docker_client.images.list() for t in image.tags if t.startswith(prefix)]


async def dev(client: Client, folder: str, action: str, **extra: Any) -> dict[str, Any]:
    return ok(await client.call_tool("dev-container", {"folder": folder, "action": action, **extra}))


async def test_image_devcontainer_runs_commands_in_the_mounted_workspace_and_goes_away(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    port = free_port()
    folder = write_project(tmp_path / "imgproj", image_config(test_image, appPort=[port]))
    try:
        up = await dev(client, folder, "up", timeout=300)
        assert up["workspace_folder"] == "/workspaces/imgproj"
        assert up["remote_user"] == "root"
        [container] = containers_of(docker_client, folder)
        assert container.status == "running"
        assert container.name == up["container_name"]
        authority = up["vscode_uri"].removeprefix("vscode-remote://attached-container+").split("/")[0]
        assert json.loads(bytes.fromhex(authority)) == {"containerName": f"/{container.name}"}
        assert up["vscode_uri"].endswith("/workspaces/imgproj")
        assert container.name in up["attach"]
        # appPort is published as run-container publishes: on MCP_DOCKER_PUBLISH_ADDRESS only.
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert bindings == {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        # The workspace is the host folder itself: a file written now is seen inside.
        (tmp_path / "imgproj" / "note.txt").write_text("written on the host\n")
        seen = await dev(client, folder, "exec", command=["cat", "note.txt"])
        assert (seen["exit_code"], seen["stdout"], seen["stderr"]) == (0, "written on the host\n", "")
        failed = await dev(client, folder, "exec", command="sh -c 'pwd; echo oops >&2; exit 3'")
        assert failed["exit_code"] == 3
        assert failed["stdout"] == "/workspaces/imgproj\n"
        assert failed["stderr"] == "oops\n"
        stopped = await dev(client, folder, "stop")
        assert stopped["containers"] == [container.name]
        container.reload()
        assert container.status == "exited"
        removed = await dev(client, folder, "remove")
        assert removed["containers"] == [container.name]
        assert containers_of(docker_client, folder) == []
    finally:
        for leftover in containers_of(docker_client, folder):
            leftover.remove(force=True)


async def test_dockerfile_devcontainer_is_built_run_and_removed_with_its_image(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = write_project(
        tmp_path / "fileproj",
        {"build": {"dockerfile": "Dockerfile"}},
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    try:
        up = ok(
            await client.call_tool(
                "dev-container",
                {"folder": folder, "action": "up", "timeout": 300},
                progress_callback=on_progress,
            )
        )
        assert up["workspace_folder"] == "/workspaces/fileproj"
        assert any("docker buildx build" in line or "docker build" in line for line in seen), seen
        tags = built_images(docker_client, folder)
        assert len(tags) == 1
        (tmp_path / "fileproj" / "src.txt").write_text("source\n")
        ran = await dev(client, folder, "exec", command=["sh", "-c", "id -un; cat src.txt"])
        assert ran["stdout"] == "root\nsource\n"
        removed = await dev(client, folder, "remove")
        assert [f"{name}:latest" for name in removed["removed_images"]] == tags
        assert containers_of(docker_client, folder) == []
        assert built_images(docker_client, folder) == []
    finally:
        for leftover in containers_of(docker_client, folder):
            leftover.remove(force=True)
        for tag in built_images(docker_client, folder):
            docker_client.images.remove(tag, force=True)


async def test_compose_devcontainer_is_judged_started_and_taken_down(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    key, _, value = LABEL.partition("=")
    compose = COMPOSE.format(image=test_image, label_key=key, label_value=value)
    folder = write_project(
        tmp_path / "composeproj",
        {
            "dockerComposeFile": "compose.yaml",
            "service": "dev",
            "workspaceFolder": "/workspace",
            "remoteUser": "0",
        },
        {"compose.yaml": compose},
    )
    project = "composeproj_devcontainer"
    try:
        up = await dev(client, folder, "up", timeout=300)
        assert up["container_name"] == f"{project}-dev-1"
        assert up["workspace_folder"] == "/workspace"
        (tmp_path / "composeproj" / "c.txt").write_text("composed\n")
        seen = await dev(client, folder, "exec", command=["cat", "c.txt"])
        assert seen["stdout"] == "composed\n"
        await dev(client, folder, "remove")
        assert containers_of(docker_client, folder) == []
        networks = docker_client.networks.list(filters={"label": f"com.docker.compose.project={project}"})
        assert networks == []
    finally:
        for leftover in containers_of(docker_client, folder):
            leftover.remove(force=True)
        for network in docker_client.networks.list(
            filters={"label": f"com.docker.compose.project={project}"}
        ):
            network.remove()


async def test_config_shows_the_configuration_as_the_cli_reads_it(
    client: Client, tmp_path: Path, test_image: str
) -> None:
    folder = write_project(
        tmp_path / "cfg", image_config(test_image, remoteEnv={"A": "${localWorkspaceFolder}"})
    )
    config = await dev(client, folder, "config")
    assert config["config_file"] == f"{folder}/.devcontainer/devcontainer.json"
    assert config["configuration"]["image"] == test_image
    assert config["configuration"]["remoteEnv"] == {"A": folder}  # variables substituted
    assert config["workspace_folder"] == "/workspaces/cfg"
    assert config["workspace_mount"] == f"type=bind,source={folder},target=/workspaces/cfg"


async def test_a_feature_fails_offline_with_a_readable_message_and_creates_nothing(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    config = image_config(test_image, features={"ghcr.io/devcontainers/features/git:1": {}})
    folder = write_project(tmp_path / "feat", config)
    text = error_text(await client.call_tool("dev-container", {"folder": folder, "action": "up"}))
    assert "needs the network" in text
    assert "ghcr.io" in text
    assert "remove the Features" in text
    assert containers_of(docker_client, folder) == []


async def test_exec_without_a_running_container_and_a_missing_config_say_what_to_do(
    client: Client, tmp_path: Path, test_image: str
) -> None:
    folder = write_project(tmp_path / "idle", image_config(test_image))
    text = error_text(
        await client.call_tool("dev-container", {"folder": folder, "action": "exec", "command": "ls"})
    )
    assert "action=up" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    text = error_text(await client.call_tool("dev-container", {"folder": str(empty), "action": "up"}))
    assert "devcontainer.json" in text
    gone = await client.call_tool("dev-container", {"folder": str(empty), "action": "remove"})
    assert ok(gone)["note"] == "no dev container for this folder"
