"""Live updates on real engines, in both protocol eras: a subscriber of a container or Compose
project resource hears when it starts, stops, dies, restarts or turns unhealthy; one event
watcher per engine, started by the first subscription and stopped with the last; the watcher
survives an engine restart and resumes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import anyio
import docker
import pytest
from mcp import Client, MCPError
from mcp.client.subscriptions import ResourceUpdated, Subscription
from mcp.types import ResourceUpdatedNotification, TextResourceContents

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, env, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

WATCH_LOG = "mcp_docker_server.resources.watch"
# The handshake era is what these tests exercise; the client warns that 2026-07-28 dropped it.
LEGACY = pytest.mark.filterwarnings("ignore:resources/:mcp.shared.exceptions.MCPDeprecationWarning")
FEED_LOG = "mcp_docker_server.engine.events"


@pytest.fixture
def make_container(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """Create (not start) labelled containers; all removed afterwards."""
    made: list[Any] = []

    def make(labels: dict[str, str] | None = None, **options: Any) -> Any:
        container = docker_client.containers.create(
            test_image,
            ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
            name=f"mcpd-sub-{uuid.uuid4().hex[:8]}",
            labels={LABEL_KEY: RUN_ID, **(labels or {})},
            **options,
        )
        made.append(container)
        return container

    yield make
    for container in made:
        container.remove(force=True)


@pytest.fixture
async def modern(unix_host: str) -> AsyncIterator[Client]:
    async with Client(build_server(settings_for(unix_host))) as client:
        yield client


async def next_update(sub: Subscription, timeout: float = 15) -> str:
    with anyio.fail_after(timeout):
        while True:
            event = await sub.__anext__()
            if isinstance(event, ResourceUpdated):
                return event.uri


async def act(fn: Any, *args: Any, **kwargs: Any) -> None:
    await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def test_modern_listen_hears_start_stop_restart_and_die(modern: Client, make_container: Any) -> None:
    """Each change is told, and a read after the notice shows it. (The client folds identical
    notices that arrive before it reads one, so a change is used that makes exactly one event:
    start, a kill's die, a stop's die and stop read together.)"""
    container = make_container()
    uri = f"docker://containers/{container.name}/inspect"

    async def status() -> str:
        return str(json.loads(text(await modern.read_resource(uri)))["state"]["status"])

    async with modern.listen(resource_subscriptions=[uri]) as sub:
        assert sub.honored.resource_subscriptions == [uri]
        for action, expected in ((container.start, "running"), (container.kill, "exited"),
                                 (container.start, "running"), (container.restart, "running")):  # fmt: skip
            await act(action)
            assert await next_update(sub) == uri
            assert await status() == expected
        await act(container.stop, timeout=5)
        assert await next_update(sub) == uri
        assert await status() == "exited"


def text(result: Any) -> str:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    return content.text


async def test_subscribing_by_id_prefix_hears_the_same_container(modern: Client, make_container: Any) -> None:
    container = make_container()
    uri = f"docker://containers/{container.id[:12]}/logs"
    async with modern.listen(resource_subscriptions=[uri]) as sub:
        await act(container.start)
        assert await next_update(sub) == uri


@LEGACY
async def test_legacy_subscribe_hears_changes_until_unsubscribed(
    unix_host: str, make_container: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=WATCH_LOG)
    container = make_container()
    uri = f"docker://containers/{container.name}/stats"
    got: list[str] = []
    arrived = anyio.Event()

    async def handler(message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            got.append(message.params.uri)
            arrived.set()

    async with Client(
        build_server(settings_for(unix_host)), mode="legacy", message_handler=handler
    ) as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe is True
        await client.subscribe_resource(uri)
        await act(container.start)
        with anyio.fail_after(15):
            await arrived.wait()
        assert got[0] == uri
        await client.unsubscribe_resource(uri)
        assert "event watcher for engine default stopped: no subscriptions left" in caplog.text
        seen = len(got)
        await act(container.stop, timeout=1)
        # The engine has told whoever listens by the time a fresh listing shows it stopped.
        await client.read_resource(f"docker://containers/{container.name}/inspect")
    assert len(got) == seen


async def test_turning_unhealthy_is_notified(modern: Client, make_container: Any) -> None:
    container = make_container(healthcheck={"test": ["CMD", "false"], "interval": 500_000_000, "retries": 1})
    uri = f"docker://containers/{container.name}/inspect"
    async with modern.listen(resource_subscriptions=[uri]) as sub:
        await act(container.start)
        assert await next_update(sub) == uri  # started
        assert await next_update(sub) == uri  # the next change: its health
        container.reload()
        assert container.attrs["State"]["Health"]["Status"] == "unhealthy"
        shown = await modern.read_resource(uri)
    assert '"status":"unhealthy"' in shown.contents[0].text  # type: ignore[union-attr]


async def test_a_compose_project_subscriber_hears_each_of_its_containers(
    modern: Client, make_container: Any
) -> None:
    project = f"mcpd-sub-{uuid.uuid4().hex[:6]}"
    web = make_container({"com.docker.compose.project": project, "com.docker.compose.service": "web"})
    db = make_container({"com.docker.compose.project": project, "com.docker.compose.service": "db"})
    other = make_container({"com.docker.compose.project": f"{project}-other"})
    uri = f"docker://compose/{project}"
    async with modern.listen(resource_subscriptions=[uri]) as sub:
        await act(other.start)  # another project: not this subscriber's business
        await act(web.start)
        assert await next_update(sub) == uri
        await act(db.start)
        assert await next_update(sub) == uri
        shown = await modern.read_resource(uri)
    text = shown.contents[0].text  # type: ignore[union-attr]
    assert '"service":"db"' in text
    assert '"service":"web"' in text
    assert other.name not in text


async def test_one_watcher_per_engine_started_by_the_first_subscription_stopped_with_the_last(
    unix_host: str, make_container: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=WATCH_LOG)
    first, second = make_container(), make_container()
    uris = [f"docker://containers/{c.name}/inspect" for c in (first, second)]
    server = build_server(settings_for(unix_host))
    async with Client(server) as client:
        async with client.listen(resource_subscriptions=[uris[0]]) as one:
            async with client.listen(resource_subscriptions=uris) as both:
                await act(second.start)
                assert await next_update(both) == uris[1]
                await act(first.start)
                assert await next_update(one) == uris[0]
                assert await next_update(both) == uris[0]
            assert "stopped" not in caplog.text  # one stream still listens
        with anyio.fail_after(5):
            while "stopped: no subscriptions left" not in caplog.text:
                await anyio.sleep(0.05)
    assert caplog.text.count("event watcher for engine default started") == 1
    assert caplog.text.count("event watcher for engine default stopped") == 1


async def test_out_of_scope_containers_are_never_told_about(unix_host: str, make_container: Any) -> None:
    outside = make_container()
    outside_labels = dict(outside.labels)
    assert LABEL_KEY in outside_labels
    # Scope on a label only `inside` carries.
    scope = f"io.mcp-docker-server.sub-scope={uuid.uuid4().hex[:6]}"
    key, _, value = scope.partition("=")
    inside = make_container({key: value})
    policy = replace(Policy(), label_scope=scope)
    uris = [f"docker://containers/{c.name}/inspect" for c in (outside, inside)]
    async with Client(build_server(settings_for(unix_host), policy=policy)) as client:
        async with client.listen(resource_subscriptions=uris) as sub:
            await act(outside.start)  # first in the engine's stream: it would arrive first
            await act(inside.start)
            assert await next_update(sub) == uris[1]
        with pytest.raises(MCPError, match="does not carry the label"):
            await client.read_resource(uris[0])


@LEGACY
async def test_subscribing_to_what_the_operator_hides_is_refused(unix_host: str, make_container: Any) -> None:
    container = make_container()
    policy = replace(Policy(), deny_tools=("container-logs",))
    async with Client(build_server(settings_for(unix_host), policy=policy), mode="legacy") as client:
        with pytest.raises(MCPError, match="container-logs is disabled"):
            await client.subscribe_resource(f"docker://containers/{container.name}/logs")
        with pytest.raises(MCPError, match="not a subscribable resource"):
            await client.subscribe_resource("docker://images/busybox:local")
        await client.subscribe_resource(f"docker://containers/{container.name}/inspect")  # still fine


def engine_script(*args: str) -> None:
    subprocess.run([env("MCPD_TEST_ENGINE_SCRIPT"), *args], check=True, timeout=180, stdin=subprocess.DEVNULL)


async def test_the_watcher_survives_an_engine_restart_and_resumes(
    test_image: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The second engine is stopped and started under a subscriber: the container (restart
    policy always) comes back with the engine, and the subscriber hears it."""
    caplog.set_level(logging.INFO, logger=FEED_LOG)
    host = env("MCPD_TEST_SECOND_UNIX_HOST")
    second = docker.DockerClient(base_url=host, timeout=30)
    container = second.containers.run(
        test_image, ["sleep", "3600"], detach=True, network_mode="none", restart_policy={"Name": "always"},
        labels={LABEL_KEY: RUN_ID}, name=f"mcpd-sub-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    uri = f"docker://containers/{container.name}/inspect"
    try:
        async with (
            Client(build_server(settings_for(host, DOCKER_TIMEOUT="10"))) as client,
            client.listen(resource_subscriptions=[uri]) as sub,
        ):
            # Proof the watcher is connected: a restart is heard before the engine goes.
            await act(container.restart, timeout=1)
            assert await next_update(sub) == uri
            await anyio.to_thread.run_sync(engine_script, "stop-second")
            stopped = time.monotonic()
            try:
                with anyio.fail_after(10):
                    while "retrying" not in caplog.text:  # the watcher noticed and backs off
                        await anyio.sleep(0.05)
                with anyio.move_on_after(1):  # what the engine said while going down
                    while True:
                        await next_update(sub)
            finally:
                starting = time.monotonic()
                await anyio.to_thread.run_sync(engine_script, "start-second")
            started = time.monotonic()
            assert await next_update(sub, timeout=30) == uri  # the container is back
            heard = time.monotonic()
            assert (
                await anyio.to_thread.run_sync(lambda: second.containers.get(str(container.name)).status)
                == "running"
            )
            shown = await client.read_resource(uri)
        text = shown.contents[0].text  # type: ignore[union-attr]
        assert '"status":"running"' in text
        resumed = next(r.getMessage() for r in caplog.records if "resumed after" in r.getMessage())
        # start-second returns once the engine answers on both its addresses.
        print(f"down {starting - stopped:.1f} s; start-second {started - starting:.1f} s; {resumed}")
        print(
            f"heard {heard - starting:.2f} s after start-second began, {heard - started:.2f} s after it ended"
        )
        assert heard - started < 10
    finally:
        # A fresh client: the engine restarted under the first one.
        cleanup = docker.DockerClient(base_url=host, timeout=30)
        cleanup.containers.get(str(container.name)).remove(force=True)
        cleanup.close()
        second.close()
