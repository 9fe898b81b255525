"""Every read tool's result stays within a byte budget on a fixed fixture (issue 7).

The model pays for every byte a tool returns. The fixture is fixed: 20 labelled containers
with known names, ports, labels and env, one that printed 5,000 log lines, a network, a volume,
and the test image. Each read call's text block (what a client shows the model) and its
structured content are measured against a budget for the text set about a quarter above what they were when
the budgets were written, so a change that fattens a result fails here and has to argue for
its bytes. Lists are filtered to the fixture, so other tests' resources do not count.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL, LABEL_KEY, RUN_ID, ok, text_of

pytestmark = pytest.mark.anyio

CONTAINERS = 20
LOG_LINES = 5000


class Fixture:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names = [f"{prefix}-web-{n:02d}" for n in range(CONTAINERS)]
        self.logs = f"{prefix}-logs"
        self.network = f"{prefix}-net"
        self.volume = f"{prefix}-vol"


@pytest.fixture(scope="module")
def fixture(docker_client: docker.DockerClient, test_image: str) -> Iterator[Fixture]:
    made = Fixture(f"budget-{uuid.uuid4().hex[:6]}")
    labels = {LABEL_KEY: RUN_ID, "app": "web", "tier": "frontend"}
    try:
        docker_client.networks.create(made.network, labels=labels)
        docker_client.volumes.create(made.volume, labels=labels)
        for name in made.names:
            docker_client.containers.run(  # type: ignore[call-overload]  # the stubs lack a dict healthcheck
                test_image,
                ["sleep", "600"],
                name=name,
                detach=True,
                labels=labels,
                environment={"MODE": "production", "API_TOKEN": "budget-canary-token"},
                ports={"80/tcp": ("127.0.0.1", None)},
                volumes={made.volume: {"bind": "/data", "mode": "rw"}},
                network=made.network,
                mem_limit="64m",
                healthcheck={"test": ["CMD", "true"], "interval": 1_000_000_000},
            )
        container = docker_client.containers.run(
            test_image,
            ["sh", "-c", f"seq 1 {LOG_LINES} | sed 's/^/GET \\/api\\/items\\/ 200 took 3ms request=/'"],
            name=made.logs,
            detach=True,
            labels=labels,
        )
        container.wait(timeout=60)
        yield made
    finally:
        for container in docker_client.containers.list(all=True, filters={"name": made.prefix}):
            container.remove(force=True, v=True)
        for network in docker_client.networks.list(names=[made.network]):
            network.remove()
        for volume in docker_client.volumes.list(filters={"name": made.volume}):
            volume.remove(force=True)


def measure(result: Any) -> tuple[int, int]:
    """(bytes of the text block, bytes of the structured content as compact JSON)."""
    structured = ok(result)
    compact = json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
    return len(text_of(result).encode()), len(compact.encode())


def calls(fx: Fixture, image: str) -> list[tuple[str, str, dict[str, Any], int]]:
    """(case, tool, arguments, byte budget of the text block)."""
    first = fx.names[0]
    return [
        ("list 20 containers", "list-containers", {"all": True, "label": [LABEL], "name": fx.prefix}, 4_200),
        ("inspect a container", "inspect-container", {"container_id": first}, 800),
        ("inspect with env shown", "inspect-container", {"container_id": first, "show_env": True}, 800),
        ("default logs of 5,000 lines", "container-logs", {"container_id": fx.logs}, 5_500),
        (
            "logs, small max_bytes",
            "container-logs",
            {"container_id": fx.logs, "max_bytes": 2048},
            2_048 + 400,
        ),
        ("logs grep", "container-logs", {"container_id": fx.logs, "grep": "request=4999$"}, 200),
        ("stats", "container-stats", {"container_id": first}, 320),
        ("stats with processes", "container-stats", {"container_id": first, "processes": True}, 500),
        ("image list", "image-operations", {"action": "list", "image": image}, 200),
        ("image inspect", "image-operations", {"action": "inspect", "image": image}, 300),
        ("image history", "image-operations", {"action": "history", "image": image}, 700),
        ("network inspect", "network-management", {"action": "inspect", "name": fx.network}, 1_300),
        ("network list", "network-management", {"action": "list", "name": fx.network}, 200),
        ("volume inspect", "volume-management", {"action": "inspect", "name": fx.volume}, 1_000),
        ("volume list", "volume-management", {"action": "list", "name": fx.volume}, 150),
        ("engine version", "docker-system", {"action": "version"}, 320),
        ("engine info", "docker-system", {"action": "info"}, 700),  # with what the tool list leaves out
        ("disk usage", "docker-system", {"action": "df"}, 1_400),
        (
            "events, last minute, 20 of them",
            "docker-system",
            {"action": "events", "since": "1m", "limit": 20},
            4_000,
        ),
    ]


async def test_every_read_tool_result_stays_within_its_byte_budget(
    client: Client, fixture: Fixture, test_image: str
) -> None:
    over: list[str] = []
    seen: list[str] = []
    for case, tool, arguments, budget in calls(fixture, test_image):
        result = await client.call_tool(tool, arguments)
        text_bytes, structured_bytes = measure(result)
        seen.append(f"{case}: text {text_bytes} B, structured {structured_bytes} B (budget {budget})")
        # The structured form keeps the nulls and defaults the text leaves out: somewhat more.
        if text_bytes > budget or structured_bytes > budget * 1.5:
            over.append(seen[-1])
    assert not over, "results over budget:\n" + "\n".join(over) + "\n\nall:\n" + "\n".join(seen)


async def test_the_fixture_results_are_what_the_budgets_assume(client: Client, fixture: Fixture) -> None:
    """Budgets mean something only if the calls return the fixture in full: 20 rows, 100 lines,
    and secrets hidden."""
    listing = ok(
        await client.call_tool("list-containers", {"all": True, "label": [LABEL], "name": fixture.prefix})
    )
    assert len(listing["containers"]) == CONTAINERS + 1  # the web containers and the logs one
    assert all(row["ports"] for row in listing["containers"] if "-web-" in row["name"])
    logs = ok(await client.call_tool("container-logs", {"container_id": fixture.logs}))
    assert logs["lines"] == 100
    assert logs["text"].rstrip().endswith(f"request={LOG_LINES}")
    shown = await client.call_tool("inspect-container", {"container_id": fixture.names[0], "show_env": True})
    assert "budget-canary-token" not in text_of(shown)
    assert "production" in text_of(shown)
