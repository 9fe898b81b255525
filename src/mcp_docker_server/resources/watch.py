"""Live updates: subscribers of a container or Compose project resource hear when it starts,
stops, dies, restarts, is OOM-killed, changes health or is removed.

Both protocol eras are served. Handshake-era clients call ``resources/subscribe`` and get
``notifications/resources/updated`` on their connection (the SDK's MCPServer has no handler for
it, so one is added on its low-level server); 2026-07-28 clients open ``subscriptions/listen``
with resource URIs and get ``ResourceUpdated`` events through the subscription bus (the SDK's
listen handler is wrapped only to learn which URIs are listened to).

One :class:`EventFeed` per engine runs while anyone subscribes to something on it: started by
the first subscription, cancelled when the last one goes (an unsubscribe, a listen stream that
ends, a connection that closes). Feeds run in a task group the server's lifespan owns.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Hashable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)

from mcp_docker_server.engine import ContainerEvent, EventFeed, Watched
from mcp_docker_server.errors import DockerServerError, PolicyDenied
from mcp_docker_server.resources.access import refusal
from mcp_docker_server.resources.uris import Target, event_matches, parse
from mcp_docker_server.state import EngineSet
from mcp_docker_server.tools.catalog import ToolName

__all__ = ["LiveUpdates"]

log = logging.getLogger(__name__)
# What a subscription would reveal, and the tool that shows the same: it must be exposed.
_SUBSCRIBE_TOOL = {
    "inspect": (ToolName.INSPECT_CONTAINER, None),
    "logs": (ToolName.CONTAINER_LOGS, None),
    "stats": (ToolName.CONTAINER_STATS, None),
    "": (ToolName.COMPOSE_STACK, "ps"),
}


class LiveUpdates:
    """Who listens to which ``docker://`` URI, and the engine feeds that serve them."""

    def __init__(self, engines: EngineSet, bus: SubscriptionBus) -> None:
        self.engines = engines
        self.bus = bus
        self.feeds: dict[str, EventFeed] = {}
        self._holders: dict[str, set[Hashable]] = {}  # uri -> listen streams and connections
        self._targets: dict[str, tuple[str, Target]] = {}  # uri -> (engine name, target)
        self._connections: dict[Hashable, Any] = {}  # handshake-era connections, to notify
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._group: TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Host the feeds for the lifespan's duration (a nested lifespan leaves them where they are)."""
        if self._group is not None:
            yield
            return
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()
                self._scopes.clear()
                self.feeds.clear()

    def attach(self, server: MCPServer[Any]) -> None:
        """Serve subscriptions on ``server`` in both eras."""
        lowlevel = server._lowlevel_server  # the SDK's only seam for handshake-era subscribe
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._on_subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._on_unsubscribe)
        entry = lowlevel.get_request_handler("subscriptions/listen")
        if entry is None:
            return
        served = entry.handler

        async def listen(ctx: ServerRequestContext[Any], params: SubscriptionsListenRequestParams) -> Any:
            holder = object()
            for uri in params.notifications.resource_subscriptions or ():
                with contextlib.suppress(DockerServerError):  # such a URI is honoured and never fires
                    self._acquire(holder, uri)
            try:
                return await served(ctx, params)
            finally:
                self._release_all(holder)

        lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen)

    async def _on_subscribe(
        self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        connection = ctx.session._connection  # notifications go on the connection, not the request
        try:
            self._acquire(connection, str(params.uri))
        except DockerServerError as exc:
            raise MCPError(INVALID_PARAMS, str(exc), {"uri": str(params.uri)}) from exc
        if connection not in self._connections:
            self._connections[connection] = connection
            connection.exit_stack.callback(self._forget, connection)
        return EmptyResult()

    async def _on_unsubscribe(
        self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._release(ctx.session._connection, str(params.uri))
        return EmptyResult()

    def _forget(self, connection: Hashable) -> None:
        self._connections.pop(connection, None)
        self._release_all(connection)

    def _acquire(self, holder: Hashable, uri: str) -> None:
        """Record a subscription, starting the engine's feed if it is the first there.

        Raises:
            InvalidArgument: not a subscribable URI, or an unknown engine.
            PolicyDenied: the operator hides what the URI shows.
        """
        target = parse(uri)
        if target is None or not target.subscribable:
            raise PolicyDenied(
                "subscribe", f"{uri} is not a subscribable resource",
                hint="subscribe to docker://containers/{container}/inspect (or /logs, /stats) "
                "or docker://compose/{project}.",
            )  # fmt: skip
        state = self.engines.get(target.engine)
        tool, action = _SUBSCRIBE_TOOL[target.view]
        denied = refusal(state, tool, action)
        if denied is None and target.kind == "compose" and state.policy.label_scope:
            denied = PolicyDenied("label-scope", "Compose projects cannot be limited to a label scope")
        if denied is not None:
            raise denied
        self._holders.setdefault(uri, set()).add(holder)
        self._targets[uri] = (state.name, target)
        self._refresh()

    def _release(self, holder: Hashable, uri: str) -> None:
        holders = self._holders.get(uri)
        if holders is not None:
            holders.discard(holder)
            if not holders:
                del self._holders[uri]
                self._targets.pop(uri, None)
        self._refresh()

    def _release_all(self, holder: Hashable) -> None:
        for uri in [u for u, holders in self._holders.items() if holder in holders]:
            self._release(holder, uri)

    def watched(self, engine: str) -> Watched:
        """What is subscribed on ``engine`` now."""
        targets = [t for name, t in self._targets.values() if name == engine]
        return Watched(
            containers=frozenset(t.name for t in targets if t.kind == "container"),
            projects=frozenset(t.name for t in targets if t.kind == "compose"),
        )

    def _refresh(self) -> None:
        """Start a feed for each engine with subscriptions; stop those without."""
        wanted = {name for name, _ in self._targets.values()}
        for name in [n for n in self._scopes if n not in wanted]:
            self._scopes.pop(name).cancel()
            self.feeds.pop(name, None)
            log.info("event watcher for engine %s stopped: no subscriptions left", name)
        if self._group is None:
            if wanted - set(self._scopes):
                log.warning("subscriptions recorded outside the server's lifespan: no event watcher runs")
            return
        for name in wanted - set(self._scopes):
            state = self.engines.get(name)
            feed = EventFeed(state.engine.target, state.policy.label_scope)
            scope = anyio.CancelScope()
            self._scopes[name], self.feeds[name] = scope, feed
            self._group.start_soon(self._run_feed, name, feed, scope)
            log.info("event watcher for engine %s started", name)

    async def _run_feed(self, name: str, feed: EventFeed, scope: anyio.CancelScope) -> None:
        with scope:

            async def deliver(event: ContainerEvent) -> None:
                await self._deliver(name, event)

            await feed.run(lambda: self.watched(name), deliver)

    async def _deliver(self, engine: str, event: ContainerEvent) -> None:
        for uri, (name, target) in list(self._targets.items()):
            if name != engine or not event_matches(target, event.id, event.name, event.project):
                continue
            await self.bus.publish(ResourceUpdated(uri=uri))
            for holder in list(self._holders.get(uri, ())):
                connection = self._connections.get(holder)
                if connection is not None:
                    await connection.send_resource_updated(uri)  # never raises: a closed one drops it
