"""docker-system against the real engine: info, version, df, events, and a prune that reports
what it frees before it asks (scoped by label here, so the test touches only its own objects)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import docker
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def system(client: Client, **args: object) -> dict[str, Any]:
    return ok(await client.call_tool("docker-system", dict(args)))


async def test_info_and_version_are_compact(client: Client) -> None:
    info = (await system(client, action="info"))["info"]
    assert isinstance(info, dict)
    assert info["server_version"]
    assert info["cpus"] >= 1
    assert info["swarm"] in ("inactive", "active")
    version = (await system(client, action="version"))["version"]
    assert isinstance(version, dict)
    assert version["api_version"] >= "1.41"
    assert version["os_arch"].startswith("linux/")


async def test_df_reports_bytes_and_human_sizes(client: Client) -> None:
    disk = (await system(client, action="df"))["disk"]
    assert isinstance(disk, dict)
    rows = {r["type"]: r for r in disk["rows"]}
    assert set(rows) == {"images", "containers", "volumes", "build-cache"}
    assert rows["images"]["total"] >= 1
    assert rows["images"]["size_bytes"] > 0
    assert rows["images"]["size"].split()[-1] in ("B", "KB", "MB", "GB", "TB")


async def test_events_in_a_window_with_filters(
    client: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    docker_client.containers.run(test_image, ["true"], name=unique_name, labels={LABEL_KEY: RUN_ID})
    try:
        events = (
            await system(
                client,
                action="events",
                since="2m",
                filters={"type": "container", "container": unique_name},
            )
        )["events"]
        assert isinstance(events, list)
        actions = [e["action"] for e in events]
        assert {"create", "start", "die"} <= set(actions)
        assert all(e["actor"] == unique_name for e in events)
        capped = await system(
            client, action="events", since="2m", filters={"container": unique_name}, limit=1
        )
        assert len(capped["events"]) == 1
        assert capped["events_truncated"] is True
    finally:
        docker_client.containers.get(unique_name).remove(force=True)
    assert "a day" in error_text(await client.call_tool("docker-system", {"action": "events", "since": "2d"}))
    assert "not a time" in error_text(
        await client.call_tool("docker-system", {"action": "events", "since": "yesterday"})
    )


@pytest.fixture
def prunable(
    docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> Iterator[dict[str, str]]:
    """A stopped container, an unused volume and network, all labelled for this run; and an
    unlabelled stopped container that a scoped prune must leave alone."""
    labels = {LABEL_KEY: RUN_ID}
    names = {
        "container": f"{unique_name}-stopped",
        "volume": f"{unique_name}-vol",
        "network": f"{unique_name}-net",
        "outsider": f"{unique_name}-outsider",
    }
    docker_client.containers.create(test_image, ["true"], name=names["container"], labels=labels)
    docker_client.volumes.create(names["volume"], labels=labels)
    docker_client.networks.create(names["network"], labels=labels)
    # Labelled for the leak check under another key, so the scope label does not match it.
    docker_client.containers.create(test_image, ["true"], name=names["outsider"], labels={"other": "1"})
    yield names
    for name in (names["container"], names["outsider"]):
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(name).remove(force=True)
    for getter in (docker_client.volumes.get, docker_client.networks.get):
        for name in (names["volume"], names["network"]):
            with contextlib.suppress(docker.errors.NotFound):
                getter(name).remove()


async def test_prune_reports_then_asks_then_removes_only_what_it_reported(
    unix_host: str, prunable: dict[str, str], docker_client: docker.DockerClient
) -> None:
    asked: list[str] = []

    async def yes(context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    policy = replace(Policy(), label_scope=LABEL)
    targets = ["containers", "volumes", "networks"]
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=yes
    ) as client:
        # The volume is a named one: a prune takes it only when asked (docker volume prune --all).
        asked_for = {"targets": targets, "named_volumes": True}
        plan = (await system(client, action="prune", dry_run=True, **asked_for))["prune"]
        assert isinstance(plan, dict)
        found = {(c["type"], c["name"]) for c in plan["candidates"]}
        assert found == {
            ("container", prunable["container"]),
            ("volume", prunable["volume"]),
            ("network", prunable["network"]),
        }
        assert plan["removed"] is False
        assert not asked
        docker_client.containers.get(prunable["container"])  # the dry run removed nothing
        done = (await system(client, action="prune", **asked_for))["prune"]
    assert isinstance(done, dict)
    assert done["removed"] is True
    assert done["failed"] == []
    assert len(asked) == 1
    assert "1 container, 1 volume, 1 network" in asked[0]
    for getter, name in (
        (docker_client.containers.get, prunable["container"]),
        (docker_client.volumes.get, prunable["volume"]),
        (docker_client.networks.get, prunable["network"]),
    ):
        with pytest.raises(docker.errors.NotFound):
            getter(name)
    assert docker_client.containers.get(prunable["outsider"]).status == "created"


async def test_a_declined_prune_changes_nothing(
    unix_host: str, prunable: dict[str, str], docker_client: docker.DockerClient
) -> None:
    async def no(context: object, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    policy = replace(Policy(), label_scope=LABEL)
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=no
    ) as client:
        text = error_text(
            await client.call_tool("docker-system", {"action": "prune", "targets": ["containers"]})
        )
    assert "did not confirm" in text
    assert "Nothing was changed" in text
    assert docker_client.containers.get(prunable["container"]).status == "created"


async def test_prune_is_refused_in_read_only_mode_but_reads_work(unix_host: str) -> None:
    policy = replace(Policy(), read_only=True)
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        assert ok(await c.call_tool("docker-system", {"action": "df"}))["disk"]
        text = error_text(await c.call_tool("docker-system", {"action": "prune", "dry_run": True}))
    assert "read-only" in text
