"""Swarm on a REAL two-node swarm: two current engines in two network namespaces joined by a veth
pair (scripts/test-engine.sh up starts them: the manager mcpd-sw1 on 10.213.77.1, the worker
mcpd-sw2 on 10.213.77.2; nothing leaves the machine). Driven through the MCP tools on the
manager's socket: a replicated service spreads over both nodes; draining the worker moves its
tasks to the manager; stopping the worker's engine makes the manager report the node down and
reschedule its tasks, and its return is reported too; an overlay network carries traffic from a
task on one node to a task on the other; a stack deploys across both. The worker's join token
appears in no result and in no log line."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, accept_all, env, ok, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

MANAGER, WORKER = "mcpd-sw1", "mcpd-sw2"
# Exits promptly on SIGTERM, so draining and removal do not wait out the stop grace period.
SERVE = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


class Recorder:
    """The MCP client of a server on the manager, keeping the text of every result it saw."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.texts: list[str] = []

    async def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result: CallToolResult = await self.client.call_tool(tool, args)
        self.texts.append(text_of(result))
        return ok(result)

    async def service(self, **args: Any) -> dict[str, Any]:
        return await self.call("service-management", args)

    async def nodes(self) -> dict[str, dict[str, Any]]:
        listed = (await self.call("swarm-management", {"action": "nodes"}))["nodes"]
        return {n["hostname"]: n for n in listed}

    async def task_nodes(self, name: str) -> list[str]:
        """The nodes of a service's running tasks (one entry per task)."""
        tasks = (await self.service(action="tasks", name=name))["tasks"]
        return sorted(t["node"] for t in tasks if t["state"] == "running")


def engine_script(*args: str) -> None:
    subprocess.run([env("MCPD_TEST_ENGINE_SCRIPT"), *args], check=True, timeout=180, stdin=subprocess.DEVNULL)


async def eventually(
    probe: Callable[[], Any], accept: Callable[[Any], bool], *, seconds: float, what: str
) -> Any:
    """Poll an async probe until its value is accepted; the last value in the failure."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {seconds} s; last: {value}")
        await anyio.sleep(1)


@pytest.fixture(scope="module")
def manager() -> Iterator[docker.DockerClient]:
    """The manager's engine, raw: the two nodes must be there and ready before any test."""
    client = docker.DockerClient(base_url=env("MCPD_TEST_SWARM_MANAGER_HOST"), version="auto", timeout=30)
    try:
        ready = {
            n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"]
            for n in client.nodes.list()
            if n.attrs["Status"]["State"] == "ready"
        }
        assert ready == {MANAGER: "ready", WORKER: "ready"}, (
            "scripts/test-engine.sh up makes the two-node swarm"
        )
        yield client
    finally:
        for service in client.services.list(filters={"label": LABEL}):
            service.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        for network in client.networks.list(filters={"label": LABEL}):
            network.remove()
        client.close()


@pytest.fixture(scope="module")
def worker_token(manager: docker.DockerClient) -> Iterator[str]:
    token = str(manager.swarm.attrs["JoinTokens"]["Worker"])
    assert token.startswith("SWMTKN-")
    yield token
    # Nor is it in the logs of the engines and of the script that joined the worker with it.
    logs = sorted(Path(env("MCPD_TEST_STATE")).glob("*.log"))
    assert {"sw1.log", "sw2.log"} <= {log.name for log in logs}
    assert [log.name for log in logs if token in log.read_text(errors="replace")] == []


@pytest.fixture
async def swarm(
    manager: docker.DockerClient, worker_token: str, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Recorder]:
    """A server on the manager's socket; afterwards, no result and no log line holds the token."""
    caplog.set_level(logging.DEBUG)
    server = build_server(settings_for(env("MCPD_TEST_SWARM_MANAGER_HOST")))
    async with Client(server, elicitation_callback=accept_all) as client:
        recorder = Recorder(client)
        yield recorder
    assert recorder.texts, "the test called no tool"
    for text in recorder.texts:
        assert worker_token not in text
    assert worker_token not in caplog.text
    # The worker's secret part (after the cluster's CA hash) is not there in any form either.
    assert worker_token.rsplit("-", 1)[-1] not in "\n".join(recorder.texts) + caplog.text


def remove_services(manager: docker.DockerClient, *names: str) -> None:
    for name in names:
        for service in manager.services.list(filters={"name": name}):
            service.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped


async def test_the_two_nodes_and_a_replicated_service_spread_over_both(
    swarm: Recorder, manager: docker.DockerClient, unique_name: str, test_image: str
) -> None:
    nodes = await swarm.nodes()
    assert set(nodes) == {MANAGER, WORKER}
    assert (nodes[MANAGER]["role"], nodes[MANAGER]["manager_status"]) == ("manager", "leader")
    assert (nodes[WORKER]["role"], nodes[WORKER]["manager_status"]) == ("worker", None)
    assert {n["state"] for n in nodes.values()} == {"ready"}
    assert nodes[WORKER]["engine_version"] == env("MCPD_TEST_CURRENT_VERSION")
    try:
        created = await swarm.service(
            action="create",
            name=unique_name,
            image=test_image,
            command=SERVE,
            replicas=4,
            labels={LABEL_KEY: RUN_ID},
            timeout=90,
        )
        assert created["converged"] is True
        assert (created["service"]["running"], created["service"]["desired"]) == (4, 4)
        # The scheduler spreads replicas evenly over the nodes that can run them.
        assert await swarm.task_nodes(unique_name) == [MANAGER, MANAGER, WORKER, WORKER]
    finally:
        remove_services(manager, unique_name)


async def test_draining_the_worker_moves_its_tasks_to_the_manager(
    swarm: Recorder, manager: docker.DockerClient, unique_name: str, test_image: str
) -> None:
    try:
        await swarm.service(
            action="create", name=unique_name, image=test_image, command=SERVE, replicas=4,
            labels={LABEL_KEY: RUN_ID}, timeout=90,
        )  # fmt: skip
        assert WORKER in await swarm.task_nodes(unique_name)
        drained = await swarm.call(
            "swarm-management", {"action": "set-availability", "node": WORKER, "availability": "drain"}
        )
        try:
            assert [(n["hostname"], n["availability"]) for n in drained["nodes"]] == [(WORKER, "drain")]
            moved = await eventually(
                lambda: swarm.task_nodes(unique_name),
                lambda nodes: nodes == [MANAGER] * 4,
                seconds=60,
                what="the four tasks running on the manager after the drain",
            )
            assert moved == [MANAGER] * 4
            listed = (await swarm.service(action="list"))["services"]
            assert [(s["running"], s["desired"]) for s in listed if s["name"] == unique_name] == [(4, 4)]
            assert (await swarm.nodes())[WORKER]["availability"] == "drain"
        finally:
            back = await swarm.call(
                "swarm-management", {"action": "set-availability", "node": WORKER, "availability": "active"}
            )
        assert back["nodes"][0]["availability"] == "active"
    finally:
        remove_services(manager, unique_name)


async def test_a_lost_worker_is_reported_down_its_tasks_rescheduled_and_its_return_seen(
    swarm: Recorder, manager: docker.DockerClient, unique_name: str, test_image: str
) -> None:
    try:
        await swarm.service(
            action="create", name=unique_name, image=test_image, command=SERVE, replicas=4,
            labels={LABEL_KEY: RUN_ID}, timeout=90,
        )  # fmt: skip
        assert await swarm.task_nodes(unique_name) == [MANAGER, MANAGER, WORKER, WORKER]
        engine_script("stop-worker")
        try:
            nodes = await eventually(
                swarm.nodes,
                lambda n: n[WORKER]["state"] == "down",
                seconds=60,
                what="the worker reported down",
            )
            assert nodes[MANAGER]["state"] == "ready"
            rescheduled = await eventually(
                lambda: swarm.task_nodes(unique_name),
                lambda found: found.count(MANAGER) == 4,
                seconds=90,
                what="four running tasks on the manager after the worker was lost",
            )
            assert rescheduled.count(MANAGER) == 4
            # The full task history still shows the replicas that were on the lost node.
            history = (await swarm.service(action="tasks", name=unique_name, all_tasks=True))["tasks"]
            assert {t["node"] for t in history} == {MANAGER, WORKER}
        finally:
            engine_script("start-worker")
        recovered = await eventually(
            swarm.nodes, lambda n: n[WORKER]["state"] == "ready", seconds=60, what="the worker ready again"
        )
        assert recovered[WORKER]["availability"] == "active"
    finally:
        remove_services(manager, unique_name)


async def test_the_service_list_counts_no_task_of_a_lost_node(
    swarm: Recorder, manager: docker.DockerClient, unique_name: str, test_image: str
) -> None:
    try:
        await swarm.service(
            action="create", name=unique_name, image=test_image, command=SERVE, replicas=2,
            labels={LABEL_KEY: RUN_ID}, timeout=90,
        )  # fmt: skip
        assert await swarm.task_nodes(unique_name) == [MANAGER, WORKER]
        engine_script("stop-worker")
        try:
            await eventually(
                lambda: swarm.task_nodes(unique_name),
                lambda found: found == [MANAGER, MANAGER],
                seconds=90,
                what="both running tasks on the manager after the worker was lost",
            )
            listed = (await swarm.service(action="list"))["services"]
            counts = [(s["running"], s["desired"]) for s in listed if s["name"] == unique_name]
        finally:
            engine_script("start-worker")
        assert counts == [(2, 2)]
    finally:
        remove_services(manager, unique_name)


async def test_an_overlay_network_carries_traffic_between_tasks_on_the_two_nodes(
    swarm: Recorder, manager: docker.DockerClient, unique_name: str, test_image: str
) -> None:
    network, server, caller = f"{unique_name}-net", f"{unique_name}-srv", f"{unique_name}-cli"
    created = await swarm.call(
        "network-management",
        {
            "name": network,
            "action": "create",
            "driver": "overlay",
            "options": {"labels": {LABEL_KEY: RUN_ID}},
        },
    )
    assert (created["network"]["driver"], created["network"]["scope"]) == ("overlay", "swarm")
    try:
        await swarm.service(
            action="create",
            name=server,
            image=test_image,
            # Answers every TCP connection with a line that says where it runs (busybox nc).
            command=[
                "sh",
                "-c",
                "trap 'kill $!; exit 0' TERM;"
                " while true; do echo served-on-sw1 | nc -l -p 8080 & wait $!; done",
            ],
            networks=[network],
            constraints=[f"node.hostname=={MANAGER}"],
            labels={LABEL_KEY: RUN_ID},
            timeout=90,
        )
        assert await swarm.task_nodes(server) == [MANAGER]
        # The server task's own address on the overlay (busybox-static's wget crashes and it cannot
        # resolve names), so the packets go task to task, across the veth pair.
        address = overlay_address(manager, server, network)
        await swarm.service(
            action="create",
            name=caller,
            image=test_image,
            command=[
                "sh",
                "-c",
                f"trap 'exit 0' TERM; until nc -w 2 {address} 8080 </dev/null >/got && grep -q served /got;"
                " do sleep 1; done; cat /got; echo fetched-from-sw2; while true; do sleep 1; done",
            ],
            networks=[network],
            constraints=[f"node.hostname=={WORKER}"],
            labels={LABEL_KEY: RUN_ID},
            timeout=90,
        )
        assert await swarm.task_nodes(caller) == [WORKER]
        logs = await eventually(
            lambda: swarm.service(action="logs", name=caller, tail=20),
            lambda found: "fetched-from-sw2" in found["logs"],
            seconds=60,
            what="the worker's task fetching the manager's page over the overlay",
        )
        assert "served-on-sw1" in logs["logs"]
    finally:
        remove_services(manager, server, caller)
        await eventually(
            lambda: remove_network(manager, network), bool, seconds=60, what=f"network {network} removed"
        )


def overlay_address(manager: docker.DockerClient, service: str, network: str) -> str:
    """The IPv4 address of a service's running task on an overlay network."""
    network_id = manager.networks.get(network).id
    found = manager.services.get(service)  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
    for task in found.tasks(filters={"desired-state": "running"}):
        for attachment in task.get("NetworksAttachments") or []:
            if attachment["Network"]["ID"] == network_id:
                return str(attachment["Addresses"][0].split("/")[0])
    pytest.fail(f"no running task of {service} on {network}")


async def remove_network(manager: docker.DockerClient, name: str) -> bool:
    """Remove a network once its tasks have gone (the manager refuses while they are there)."""
    for network in manager.networks.list(names=[name]):
        try:
            network.remove()
        except docker.errors.APIError:
            return False
    return manager.networks.list(names=[name]) == []


async def test_a_stack_deploys_across_both_nodes(
    swarm: Recorder, manager: docker.DockerClient, tmp_path: Path, test_image: str
) -> None:
    stack = f"mcpd2n{RUN_ID[:6]}"
    compose = tmp_path / "stack.yaml"
    compose.write_text(
        f"""
services:
  web:
    image: {test_image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    networks: [front]
    deploy:
      replicas: 2
      placement:
        max_replicas_per_node: 1
      labels:
        {LABEL_KEY}: "{RUN_ID}"
networks:
  front:
    driver: overlay
"""
    )
    try:
        deployed = await swarm.call(
            "stack-management",
            {"action": "deploy", "name": stack, "compose_file": str(compose), "resolve_image": "never"},
        )
        assert [(s["name"], s["running"], s["desired"]) for s in deployed["services"]] == [
            (f"{stack}_web", 2, 2)
        ]
        tasks = (await swarm.call("stack-management", {"action": "ps", "name": stack}))["tasks"]
        assert sorted(t["node"] for t in tasks) == [MANAGER, WORKER]
        assert {t["state"] for t in tasks} == {"running"}
        await swarm.call("stack-management", {"action": "remove", "name": stack})
        assert manager.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}) == []
    finally:
        for leftover in manager.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}):
            leftover.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
