"""dev-container under the policy, on the real engine: what a devcontainer.json asks of the
engine passes run-container's judge and host-path rule, and a refusal leaves nothing behind
(no container, no image the call built, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, accept_all, error_text, ok, settings_for
from tests.integration.test_devcontainers import (
    COMPOSE,
    DOCKERFILE,
    built_images,
    containers_of,
    image_config,
    write_project,
)

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SOCKET_MOUNT = "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind"


async def refused(client: Client, folder: str) -> str:
    return error_text(
        await client.call_tool("dev-container", {"folder": folder, "action": "up", "timeout": 300})
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"runArgs": ["--privileged"]}, "allow_privileged = true"),
        ({"privileged": True}, "allow_privileged = true"),
        ({"mounts": [SOCKET_MOUNT]}, "allow_socket_binds = true"),
        ({"runArgs": ["-v", "/var/run/docker.sock:/var/run/docker.sock"]}, "allow_socket_binds = true"),
        ({"runArgs": ["--cap-add=SYS_ADMIN"]}, "capability_allowlist"),
        ({"securityOpt": ["seccomp=unconfined"]}, "allow_unconfined = true"),
        ({"mounts": ["source=/etc,target=/host-etc,type=bind"]}, "allow_sensitive_binds = true"),
    ],
)
async def test_what_the_configuration_asks_is_refused_before_anything_is_created(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    extra: dict[str, Any],
    expected: str,
) -> None:
    folder = write_project(tmp_path / "asks", image_config(test_image, **extra))
    text = await refused(client, folder)
    assert "Denied by policy" in text
    assert "devcontainer.json" in text
    assert expected in text
    assert containers_of(docker_client, folder) == []


async def test_a_dockerfile_project_refused_by_the_engine_judge_leaves_no_container_or_image(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # The pre-check does not read --oom-score-adj: the engine's description of the created
    # container is judged (after the image was built), and both are removed.
    folder = write_project(
        tmp_path / "late",
        {"build": {"dockerfile": "Dockerfile"}, "runArgs": ["--oom-score-adj=-500"]},
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    text = await refused(client, folder)
    assert "HostConfig.OomScoreAdj" in text
    assert 'allow_container_fields = ["HostConfig.OomScoreAdj"]' in text
    assert containers_of(docker_client, folder) == []
    assert built_images(docker_client, folder) == []


async def test_a_compose_service_asking_for_privileged_is_refused_with_its_network_removed(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    key, _, value = LABEL.partition("=")
    compose = COMPOSE.format(image=test_image, label_key=key, label_value=value).replace(
        '    user: "0"\n', '    user: "0"\n    privileged: true\n'
    )
    folder = write_project(
        tmp_path / "cpriv",
        {"dockerComposeFile": "compose.yaml", "service": "dev", "workspaceFolder": "/workspace"},
        {"compose.yaml": compose},
    )
    text = await refused(client, folder)
    assert "HostConfig.Privileged" in text
    assert "allow_privileged = true" in text
    assert containers_of(docker_client, folder) == []
    project: dict[str, str | list[str] | bool] = {"label": "com.docker.compose.project=cpriv_devcontainer"}
    assert docker_client.containers.list(all=True, filters=project) == []
    assert docker_client.networks.list(filters=project) == []


async def test_initialize_command_would_run_on_the_host_and_is_refused(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    canary = tmp_path / "canary"
    folder = write_project(tmp_path / "init", image_config(test_image, initializeCommand=f"touch {canary}"))
    text = await refused(client, folder)
    assert "initializeCommand" in text
    assert not canary.exists()
    assert containers_of(docker_client, folder) == []


async def test_build_options_that_reach_the_host_network_are_refused(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = write_project(
        tmp_path / "netbuild",
        {"build": {"dockerfile": "Dockerfile", "options": ["--network=host"]}},
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    text = await refused(client, folder)
    assert "build option --network" in text
    assert containers_of(docker_client, folder) == []
    assert built_images(docker_client, folder) == []


async def test_a_workspace_folder_the_host_path_rule_refuses_is_never_mounted(client: Client) -> None:
    text = error_text(await client.call_tool("dev-container", {"folder": "/etc", "action": "up"}))
    assert "workspace folder /etc" in text
    assert "allow_sensitive_binds = true" in text


@pytest.fixture
async def scoped(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), label_scope=LABEL, experimental_tools=("dev-container",))
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


async def test_under_label_scope_dev_containers_are_refused_with_nothing_created(
    scoped: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    """The CLI's Compose and build paths reach volumes, networks and images outside a label
    scope, so the tool is refused under one, as compose-stack is."""
    folder = tmp_path / "scoped"
    folder.mkdir()
    (folder / ".devcontainer").mkdir()
    (folder / ".devcontainer" / "devcontainer.json").write_text(
        f'{{"image": "{test_image}", "containerUser": "0"}}'
    )
    for action in ("up", "config"):
        result = await scoped.call_tool("dev-container", {"folder": str(folder), "action": action})
        assert "label_scope" in error_text(result)
    assert containers_of(docker_client, str(folder)) == []


async def test_read_only_mode_allows_only_config(unix_host: str, tmp_path: Path, test_image: str) -> None:
    server = build_server(settings_for(unix_host, MCP_DOCKER_READ_ONLY="1"))
    folder = write_project(tmp_path / "ro", image_config(test_image))
    async with Client(server, elicitation_callback=accept_all) as client:
        for action in ("up", "exec", "stop", "remove"):
            text = error_text(
                await client.call_tool(
                    "dev-container", {"folder": folder, "action": action, "command": "true"}
                )
            )
            assert "read_only" in text or "read-only" in text, (action, text)
        config = ok(await client.call_tool("dev-container", {"folder": folder, "action": "config"}))
        assert config["configuration"]["image"] == test_image


async def test_without_root_exec_a_root_dev_container_is_refused_and_undone(
    unix_host: str, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # The CLI's own set-up runs `docker exec -u root` in the started container: under
    # allow_root_exec = false that exec is refused, and the container this call made goes too.
    folder = write_project(tmp_path / "noroot", image_config(test_image))
    policy = replace(Policy(), allow_root_exec=False, experimental_tools=("dev-container",))
    server = build_server(settings_for(unix_host), policy=policy)
    async with Client(server, elicitation_callback=accept_all) as client:
        text = await refused(client, folder)
    assert "Denied by policy rule 'root-exec'" in text
    assert "allow_root_exec = true" in text
    assert containers_of(docker_client, folder) == []
