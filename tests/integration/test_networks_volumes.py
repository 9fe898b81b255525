"""network-management and volume-management against the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, labelled, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def net(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("network-management", args))


async def vol(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("volume-management", args))


async def start(client: Client, image: str, name: str, labels: dict[str, str], **args: Any) -> None:
    ok(
        await client.call_tool(
            "run-container",
            {"image": image, "name": name, "labels": labels, "command": ["sleep", "300"], **args},
        )
    )


async def drop(client: Client, *names: str) -> None:
    for name in names:
        await client.call_tool("manage-container", {"container_id": name, "action": "remove", "force": True})


async def test_network_lifecycle_with_subnet_and_name_resolution(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    network = f"{unique_name}-net"
    created = await net(
        client,
        name=network,
        action="create",
        options={"subnet": "10.231.7.0/24", "gateway": "10.231.7.1", "labels": run_labels},
    )
    assert created["network"]["subnets"] == ["10.231.7.0/24"]
    assert created["network"]["gateways"] == ["10.231.7.1"]
    a, b = f"{unique_name}-a", f"{unique_name}-b"
    try:
        await start(client, test_image, a, run_labels)
        await start(client, test_image, b, run_labels)
        connected = await net(client, name=network, action="connect", containers=[a, b])
        assert connected["connected"] == [a, b]
        assert set(connected["network"]["containers"]) == {a, b}
        assert all(ip.startswith("10.231.7.") for ip in connected["network"]["containers"].values())
        ping = ok(
            await client.call_tool("exec-container", {"container_id": a, "command": f"ping -c 1 -W 2 {b}"})
        )
        assert ping["exit_code"] == 0, ping
        busy = error_text(await client.call_tool("network-management", {"name": network, "action": "remove"}))
        assert "still in use" in busy
        assert a in busy
        disconnected = await net(client, name=network, action="disconnect", containers=[a, b])
        assert disconnected["network"]["containers"] == {}
        listed = await net(client, name=network, action="list")
        assert [n["name"] for n in listed["networks"]] == [network]
        removed = await net(client, name=network, action="remove")
        assert removed["removed"] == [network]
    finally:
        await drop(client, a, b)
        for leftover in docker_client.networks.list(names=[network]):
            leftover.remove()


async def test_network_errors_are_clear(
    client: Client, unique_name: str, docker_client: docker.DockerClient
) -> None:
    network = f"{unique_name}-net"
    await net(client, name=network, action="create", options={"subnet": "10.231.8.0/24"})
    try:
        overlap = error_text(
            await client.call_tool(
                "network-management",
                {"name": network + "-2", "action": "create", "options": {"subnet": "10.231.8.128/25"}},
            )
        )
        assert "overlaps" in overlap
        assert not docker_client.networks.list(names=[network + "-2"])
        driver = error_text(
            await client.call_tool("network-management", {"name": "x", "action": "create", "driver": "fancy"})
        )
        assert "driver" in driver
        host = error_text(
            await client.call_tool("network-management", {"name": "x", "action": "create", "driver": "host"})
        )
        assert "host network already exists" in host
        missing = error_text(
            await client.call_tool("network-management", {"name": "mcpd-nope", "action": "inspect"})
        )
        assert "mcpd-nope" in missing
        needs = error_text(
            await client.call_tool("network-management", {"name": network, "action": "connect"})
        )
        assert "needs containers" in needs
    finally:
        await net(client, name=network, action="remove")


async def test_network_prune_removes_only_unused_matching_networks(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    used, unused, other = f"{unique_name}-used", f"{unique_name}-unused", f"x{unique_name}-other"
    for name in (used, unused, other):
        await net(client, name=name, action="create")
    holder = f"{unique_name}-holder"
    try:
        await start(client, test_image, holder, run_labels, network=used)
        pruned = await net(client, name=f"{unique_name}-*", action="prune")
        assert pruned["removed"] == [unused]
        assert {n.name for n in docker_client.networks.list(names=[used, unused, other])} == {used, other}
    finally:
        await drop(client, holder)
        for name in (used, other):
            for leftover in docker_client.networks.list(names=[name]):
                leftover.remove()


async def test_volume_data_outlives_the_container(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    volume = f"{unique_name}-data"
    created = await vol(client, name=volume, action="create", labels={LABEL_KEY: RUN_ID})
    assert created["volume"]["name"] == volume
    assert created["volume"]["labels"] == {LABEL_KEY: RUN_ID}
    writer, reader = f"{unique_name}-w", f"{unique_name}-r"
    try:
        wrote = ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": writer,
                    "labels": run_labels,
                    "detach": False,
                    "command": ["sh", "-c", "echo persisted > /data/file"],
                    "volumes": [f"{volume}:/data"],
                },
            )
        )
        assert wrote["exit_code"] == 0
        inspected = await vol(client, name=volume, action="inspect")
        assert inspected["volume"]["containers"] == [writer]
        busy = error_text(await client.call_tool("volume-management", {"name": volume, "action": "remove"}))
        assert "in use by" in busy
        await drop(client, writer)
        read = ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": reader,
                    "labels": run_labels,
                    "detach": False,
                    "command": ["cat", "/data/file"],
                    "volumes": [{"volume": volume, "container_path": "/data", "mode": "ro"}],
                },
            )
        )
        assert read["output"] == "persisted\n"
        await drop(client, reader)
        listed = await vol(client, name=volume, action="list")
        assert listed["volumes"] == [{"name": volume, "driver": "local", "in_use": False}]
        removed = await vol(client, name=volume, action="remove")
        assert removed["removed"] == [volume]
    finally:
        await drop(client, writer, reader)
        await client.call_tool("volume-management", {"name": volume, "action": "remove", "force": True})


async def test_volume_prune_keeps_mounted_and_unmatched_volumes(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    kept, gone, other = f"{unique_name}-kept", f"{unique_name}-gone", f"x{unique_name}-other"
    for name in (kept, gone, other):
        await vol(client, name=name, action="create")
    holder = f"{unique_name}-holder"
    try:
        await start(client, test_image, holder, run_labels, volumes=[f"{kept}:/k"])
        pruned = await vol(client, name=f"{unique_name}-*", action="prune", all=True)  # named ones too
        assert pruned["removed"] == [gone]
    finally:
        await drop(client, holder)
        for name in (kept, other):
            docker_client.volumes.get(name).remove()


@pytest.mark.parametrize("device", ["/etc", "/var/run", "/tmp/../etc"])
async def test_bind_style_volume_is_judged_as_a_bind_mount(
    client: Client, unique_name: str, device: str, docker_client: docker.DockerClient
) -> None:
    text = error_text(
        await client.call_tool(
            "volume-management",
            {
                "name": unique_name,
                "action": "create",
                "options": {"type": "none", "o": "bind", "device": device},
            },
        )
    )
    assert "policy rule 'sensitive-bind'" in text
    assert not [v for v in docker_client.volumes.list() if v.name == unique_name]


async def test_existing_bind_style_volume_cannot_smuggle_a_host_path_into_a_container(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    # Made behind the server's back (by another client): the guard must still see through it.
    docker_client.volumes.create(unique_name, driver_opts={"type": "none", "o": "bind", "device": "/etc"})
    try:
        text = error_text(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "labels": run_labels,
                    "volumes": [f"{unique_name}:/x"],
                },
            )
        )
        assert "policy rule 'sensitive-bind'" in text
        assert labelled(docker_client) == []
    finally:
        docker_client.volumes.get(unique_name).remove()


async def test_bind_style_volume_of_a_plain_folder_is_allowed_when_the_operator_allows_volume_mounts(
    unix_host: str, unique_name: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    options = {"type": "none", "o": "bind", "device": str(tmp_path)}
    allowed = build_server(settings_for(unix_host), policy=Policy(allow_volume_mounts=True))
    async with Client(allowed, elicitation_callback=accept_all) as client:
        created = await vol(client, name=unique_name, action="create", options=options)
        assert created["volume"]["options"]["device"] == str(tmp_path)
        await vol(client, name=unique_name, action="remove")
    async with Client(build_server(settings_for(unix_host)), elicitation_callback=accept_all) as client:
        text = error_text(
            await client.call_tool(
                "volume-management", {"name": unique_name, "action": "create", "options": options}
            )
        )
    assert "policy rule 'volume-mount'" in text
    assert "allow_volume_mounts = true" in text
    assert not [v for v in docker_client.volumes.list() if v.name == unique_name]
