"""Swarm on a real single-node swarm (the primary engine, initialised by the module fixture and
left again at the end): services converge, scale, roll, roll back, log and go; a stack with an
overlay network and a healthcheck deploys and goes; the node drains and comes back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, env, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

# Exits promptly on SIGTERM, so rolling updates do not wait out the stop grace period.
SERVE = ["sh", "-c", "trap 'exit 0' TERM; echo task-up; while true; do sleep 1; done"]


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient, test_image: str) -> Iterator[dict[str, str]]:
    """A single-node swarm on the primary engine, and a second image to roll a service to."""
    docker_client.swarm.init(advertise_addr="127.0.0.1")
    v2 = f"mcpd-swarm-v2:{RUN_ID}"
    dockerfile = f"FROM {test_image}\nLABEL {LABEL_KEY}={RUN_ID} version=2\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=v2, rm=True)
    try:
        yield {"v1": test_image, "v2": v2}
    finally:
        docker_client.swarm.leave(force=True)
        docker_client.images.remove(v2, force=True)


async def service(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("service-management", args))


async def test_status_nodes_and_hidden_join_tokens(
    client: Client, swarm: dict[str, str], unix_host: str
) -> None:
    status = ok(await client.call_tool("swarm-management", {"action": "nodes"}))
    assert status["state"] == "active"
    assert status["manager"] is True
    assert [n["role"] for n in status["nodes"]] == ["manager"]
    assert status.get("join_tokens") is None
    again = error_text(await client.call_tool("swarm-management", {"action": "init"}))
    assert "already part of a swarm" in again
    allowed = replace(Policy(), show_join_tokens=True)
    async with Client(build_server(settings_for(unix_host), policy=allowed)) as trusted:
        tokens = ok(await trusted.call_tool("swarm-management", {"action": "status"}))["join_tokens"]
    assert tokens["worker"].startswith("SWMTKN-")
    assert tokens["manager"].startswith("SWMTKN-")


async def test_service_converges_scales_rolls_back_logs_and_goes(
    client: Client, swarm: dict[str, str], unique_name: str, docker_client: docker.DockerClient
) -> None:
    name = unique_name
    try:
        created = await service(
            client,
            action="create",
            name=name,
            image=swarm["v1"],
            command=SERVE,
            replicas=2,
            labels={LABEL_KEY: RUN_ID},
            update_config={"parallelism": 1, "order": "start-first"},
            timeout=60,
        )
        assert created["converged"] is True
        assert (created["service"]["running"], created["service"]["desired"]) == (2, 2)

        scaled = await service(client, action="scale", name=name, replicas=3, timeout=60)
        assert scaled["converged"] is True
        assert scaled["service"]["running"] == 3
        print(f"\n3-replica convergence (scale 2 -> 3): {scaled['seconds']} s")

        rolled = await service(client, action="update", name=name, image=swarm["v2"], timeout=120)
        assert rolled["converged"] is True
        assert rolled["service"]["image"] == swarm["v2"]
        tasks = (await service(client, action="tasks", name=name))["tasks"]
        assert len(tasks) == 3
        assert {t["image"] for t in tasks} == {swarm["v2"]}

        back = await service(client, action="rollback", name=name, timeout=120)
        assert back["converged"] is True
        assert back["service"]["image"] == swarm["v1"]
        assert back["service"]["update"] == "rollback_completed"

        logs = await service(client, action="logs", name=name, tail=20)
        assert "task-up" in logs["logs"]

        listed = (await service(client, action="list"))["services"]
        assert [s["running"] for s in listed if s["name"] == name] == [3]
        ok(await client.call_tool("service-management", {"action": "remove", "name": name}))
        assert docker_client.services.list(filters={"name": name}) == []
    finally:
        for leftover in docker_client.services.list(filters={"name": name}):
            leftover.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped


async def test_overlay_network_through_network_management(
    client: Client, swarm: dict[str, str], unique_name: str, docker_client: docker.DockerClient
) -> None:
    name = f"{unique_name}-overlay"
    created = ok(
        await client.call_tool(
            "network-management",
            {
                "name": name,
                "action": "create",
                "driver": "overlay",
                "options": {"attachable": True, "labels": {LABEL_KEY: RUN_ID}},
            },
        )
    )
    try:
        assert created["network"]["driver"] == "overlay"
        assert created["network"]["scope"] == "swarm"
        assert docker_client.networks.get(name).attrs["Attachable"] is True
    finally:
        ok(await client.call_tool("network-management", {"name": name, "action": "remove"}))
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(name)


async def test_drain_and_reactivate_the_node(client: Client, swarm: dict[str, str]) -> None:
    node = ok(await client.call_tool("swarm-management", {"action": "nodes"}))["nodes"][0]["id"]
    drained = ok(
        await client.call_tool(
            "swarm-management", {"action": "set-availability", "node": node, "availability": "drain"}
        )
    )
    try:
        assert drained["nodes"][0]["availability"] == "drain"
    finally:
        active = ok(
            await client.call_tool(
                "swarm-management", {"action": "set-availability", "node": node, "availability": "active"}
            )
        )
    assert active["nodes"][0]["availability"] == "active"


async def test_stack_with_overlay_network_and_healthcheck(
    client: Client, swarm: dict[str, str], tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    stack = f"mcpd{RUN_ID[:8]}"
    compose = tmp_path / "stack.yaml"
    compose.write_text(
        f"""
services:
  web:
    image: {swarm["v1"]}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    networks: [front]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
    deploy:
      replicas: 2
      labels:
        {LABEL_KEY}: "{RUN_ID}"
networks:
  front:
    driver: overlay
"""
    )
    try:
        deployed = ok(
            await client.call_tool(
                "stack-management",
                {"action": "deploy", "name": stack, "compose_file": str(compose), "resolve_image": "never"},
            )
        )
        assert [(s["name"], s["running"], s["desired"]) for s in deployed["services"]] == [
            (f"{stack}_web", 2, 2)
        ]
        assert docker_client.networks.get(f"{stack}_front").attrs["Driver"] == "overlay"
        stacks = ok(await client.call_tool("stack-management", {"action": "list"}))["stacks"]
        assert {"name": stack, "services": 1} in stacks
        services = ok(await client.call_tool("stack-management", {"action": "services", "name": stack}))
        assert services["services"][0]["name"] == f"{stack}_web"
        tasks = ok(await client.call_tool("stack-management", {"action": "ps", "name": stack}))["tasks"]
        assert len(tasks) == 2
        assert {t["state"] for t in tasks} == {"running"}
        health = docker_client.services.get(f"{stack}_web").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        assert health["Healthcheck"]["Test"] == ["CMD", "true"]
        ok(await client.call_tool("stack-management", {"action": "remove", "name": stack}))
        assert docker_client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}) == []
    finally:
        for leftover in docker_client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}):
            leftover.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped


async def test_services_and_stacks_pass_the_container_policy(
    client: Client,
    swarm: dict[str, str],
    unique_name: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    denied = {
        "bind of /etc": {"volumes": ["/etc:/host-etc"]},
        "docker socket": {"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]},
        "host network": {"networks": ["host"]},
    }
    for why, extra in denied.items():
        text = error_text(
            await client.call_tool(
                "service-management",
                {"action": "create", "name": unique_name, "image": swarm["v1"], **extra},
            )
        )
        assert "Denied by policy" in text or "policy" in text.lower(), why
    assert docker_client.services.list(filters={"name": unique_name}) == []
    compose = tmp_path / "bad.yaml"
    compose.write_text(f"services:\n  bad:\n    image: {swarm['v1']}\n    privileged: true\n")
    text = error_text(
        await client.call_tool(
            "stack-management",
            {"action": "deploy", "name": "mcpdbad", "compose_file": str(compose), "resolve_image": "never"},
        )
    )
    assert "service bad" in text
    assert "privileged" in text
    assert docker_client.services.list(filters={"label": "com.docker.stack.namespace=mcpdbad"}) == []


async def test_an_engine_outside_any_swarm_says_how_to_start_one(swarm: dict[str, str]) -> None:
    settings = settings_for(env("MCPD_TEST_SECOND_UNIX_HOST"))
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        text = error_text(await client.call_tool("service-management", {"action": "list"}))
        status = ok(await client.call_tool("swarm-management", {"action": "status"}))
    assert "not a swarm manager" in text
    assert "action=init" in text
    assert status["state"] == "inactive"


async def test_a_rollback_to_a_spec_the_policy_refuses_is_refused(
    client: Client, swarm: dict[str, str], unique_name: str, docker_client: docker.DockerClient
) -> None:
    # Made outside the server with a bind of /etc, then changed (outside too) to something
    # harmless: a rollback would start tasks from the first spec again.
    made = docker_client.services.create(  # type: ignore[no-untyped-call]
        swarm["v1"],
        SERVE,
        name=unique_name,
        labels={LABEL_KEY: RUN_ID},
        mounts=[docker.types.Mount("/host-etc", "/etc", type="bind", read_only=True)],
    )
    try:
        made.update(mounts=[], force_update=1)
        made.reload()
        assert made.attrs.get("PreviousSpec"), "the update left no previous spec"
        text = error_text(
            await client.call_tool("service-management", {"action": "rollback", "name": unique_name})
        )
        assert "/etc" in text
        made.reload()
        mounts = ((made.attrs["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Mounts")
        assert not mounts, "the service was rolled back to its /etc bind"
    finally:
        made.remove()
