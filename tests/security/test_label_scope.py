"""Label scoping on the real engine: with ``label_scope`` set, the server labels what it creates
and refuses to touch (or show) anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


@pytest.fixture
async def scoped(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), label_scope=LABEL)
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


@pytest.fixture
def outsider(docker_client: docker.DockerClient, test_image: str, unique_name: str) -> Iterator[str]:
    """A running container this server did not make (labelled only for the leak check's sake
    under a key the scope does not match)."""
    name = f"{unique_name}-outsider"
    docker_client.containers.run(
        test_image, ["sleep", "300"], name=name, detach=True, labels={f"{LABEL_KEY}.other": RUN_ID}
    )
    yield name
    docker_client.containers.get(name).remove(force=True)


async def test_created_resources_carry_the_scope_label(
    scoped: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    ok(
        await scoped.call_tool(
            "run-container", {"image": test_image, "name": unique_name, "command": ["sleep", "60"]}
        )
    )
    network = f"{unique_name}-net"
    try:
        assert docker_client.containers.get(unique_name).labels[LABEL_KEY] == RUN_ID
        ok(await scoped.call_tool("network-management", {"name": network, "action": "create"}))
        assert docker_client.networks.get(network).attrs["Labels"][LABEL_KEY] == RUN_ID
        # In scope: managing it works.
        ok(
            await scoped.call_tool(
                "manage-container", {"container_id": unique_name, "action": "stop", "timeout": 0}
            )
        )
    finally:
        docker_client.containers.get(unique_name).remove(force=True)
        docker_client.networks.get(network).remove()


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("manage-container", {"action": "stop"}),
        ("manage-container", {"action": "remove", "force": True}),
        ("inspect-container", {}),
        ("container-logs", {}),
        ("exec-container", {"command": ["true"]}),
    ],
)
async def test_a_container_outside_the_scope_is_refused(
    scoped: Client, outsider: str, docker_client: docker.DockerClient, tool: str, args: dict[str, object]
) -> None:
    text = error_text(await scoped.call_tool(tool, {"container_id": outsider, **args}))
    assert "label-scope" in text
    assert LABEL in text
    assert docker_client.containers.get(outsider).status == "running"


async def test_listing_shows_only_scoped_containers(
    scoped: Client, outsider: str, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    docker_client.containers.run(
        test_image, ["sleep", "60"], name=unique_name, detach=True, labels={LABEL_KEY: RUN_ID}
    )
    try:
        names = [
            c["name"] for c in ok(await scoped.call_tool("list-containers", {"all": True}))["containers"]
        ]
        assert unique_name in names
        assert outsider not in names
    finally:
        docker_client.containers.get(unique_name).remove(force=True)


async def test_tools_that_cannot_be_scoped_are_refused(scoped: Client, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  a:\n    image: busybox:local\n")
    for tool, args in [
        ("compose-stack", {"compose_file": str(compose), "action": "up"}),
        ("volume-management", {"name": "*", "action": "prune"}),
        ("image-operations", {"image": "busybox:local", "action": "remove"}),
    ]:
        assert "label-scope" in error_text(await scoped.call_tool(tool, args)), tool
