"""The network judge on the real engine through network-management: harmless driver options make
the network asked for, host-reaching ones are refused before anything exists (naming the
option and the policy key), and the operator's keys open them by name."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


@pytest.fixture
def network_name(docker_client: docker.DockerClient, unique_name: str) -> Iterator[str]:
    """A network name the test may create; the network is removed afterwards."""
    yield unique_name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.networks.get(unique_name).remove()


@pytest.fixture
def own_bridge() -> Iterator[str]:
    """A host bridge of this test's own (never docker0: taking that over breaks the engine)."""
    name = f"mcpdnp{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    yield name
    subprocess.run(["ip", "link", "delete", name], check=False, capture_output=True)


@pytest.fixture
async def opened(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), allowed_network_drivers=("macvlan",), allow_network_options=("parent",))
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


async def test_harmless_driver_options_make_the_network_asked_for(
    client: Client, docker_client: docker.DockerClient, network_name: str
) -> None:
    options = {"com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.enable_icc": "false"}
    ok(
        await client.call_tool(
            "network-management",
            {"name": network_name, "action": "create", "options": {**options, "labels": {LABEL_KEY: RUN_ID}}},
        )
    )
    made = docker_client.networks.get(network_name).attrs
    assert (made["Driver"], made["Options"]) == ("bridge", options)


async def test_a_refused_option_is_named_with_the_key_that_allows_it(
    client: Client, docker_client: docker.DockerClient, network_name: str
) -> None:
    text = error_text(
        await client.call_tool(
            "network-management",
            {
                "name": network_name,
                "action": "create",
                # A bridge that does not exist: even a wrong admission would not touch the host's.
                "options": {"com.docker.network.bridge.name": "mcpdnpnone0", "enable_icc": "false"},
            },
        )
    )
    assert "policy rule 'network-option'" in text
    assert (
        f"network '{network_name}' sets the driver option com.docker.network.bridge.name, enable_icc" in text
    )
    assert 'allow_network_options = ["com.docker.network.bridge.name", "enable_icc"]' in text
    assert docker_client.networks.list(names=[network_name]) == []


async def test_the_operator_opens_a_driver_and_its_options_by_name(
    opened: Client, client: Client, docker_client: docker.DockerClient, own_bridge: str, network_name: str
) -> None:
    # own_bridge before network_name: the network is removed before its parent link.
    request = {
        "name": network_name,
        "action": "create",
        "driver": "macvlan",
        "options": {"parent": own_bridge},
    }
    text = error_text(await client.call_tool("network-management", request))
    assert "allowed_network_drivers" in text
    ok(await opened.call_tool("network-management", request))
    made = docker_client.networks.get(network_name).attrs
    assert (made["Driver"], made["Options"]) == ("macvlan", {"parent": own_bridge})
