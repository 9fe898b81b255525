"""What tools/list shows, and telling clients when it changes.

Every conversation pays for the tool list, so it shows what can be used now (catalog
``listed``): the Swarm service and stack tools only while an engine is a swarm manager
(``swarm-management`` stays, for init and join); the optional families (image security,
Kubernetes export, development containers) as one-line stubs until they are first called, then
in full. A hidden or stubbed tool is still registered: a call by name works, and its first call
(even one with wrong arguments, whose error lists them) publishes its full definition.

When the list changes, handshake-era connections that listed tools get
``notifications/tools/list_changed``; 2026-07-28 clients get ``ToolsListChanged`` on their
``subscriptions/listen`` stream (the subscription bus).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import SubscriptionBus, ToolsListChanged
from mcp.types import Tool, ToolAnnotations

from mcp_docker_server.tools.catalog import ToolDecl

__all__ = ["ToolListing"]

log = logging.getLogger(__name__)
_STUB_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class ToolListing:
    """The list's state: whether an engine is a swarm manager, which optional tools were used."""

    def __init__(self, catalog: Mapping[str, ToolDecl], bus: SubscriptionBus) -> None:
        self._catalog = catalog
        self._bus = bus
        self.swarm_manager = False  # until an engine says otherwise (checked after the first list)
        self.used: set[str] = set()
        self.listed = anyio.Event()  # the first tools/list was answered
        self.recheck = anyio.Event()  # the swarm state may have changed
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()

    def shape(
        self, tools: Sequence[Tool], pending: Mapping[str, ToolAnnotations] | None = None
    ) -> list[Tool]:
        """``tools`` as the list shows them now, plus the stubs of the optional tools whose
        modules are not loaded yet (``pending``: each with its published annotations)."""
        shown = []
        for tool in tools:
            listed = self._listed(tool.name)
            if listed == "swarm" and not self.swarm_manager:
                continue
            on_demand = listed == "on_demand" and tool.name not in self.used
            shown.append(self.stub(tool.name, tool.annotations) if on_demand else tool)
        return shown + [self.stub(name, annotations) for name, annotations in (pending or {}).items()]

    def stub(self, name: str, annotations: ToolAnnotations | None) -> Tool:
        """The one-line form of optional tool ``name``: what it is for, how to see its
        parameters."""
        decl = self._catalog[name]
        return Tool(
            name=name,
            title=decl.title,
            description=f"{decl.summary}. Parameters: call it with {{}} once, they are then listed.",
            input_schema=_STUB_SCHEMA,
            annotations=annotations,
        )

    async def note_call(self, name: str) -> None:
        """A call of ``name``: an optional tool's first call publishes its full definition."""
        if self._listed(name) == "on_demand" and name not in self.used:
            self.used.add(name)
            await self.changed()

    async def note_swarm(self, manager: bool) -> None:
        """What the engines said of their swarm role; the list changes with it."""
        if manager != self.swarm_manager:
            self.swarm_manager = manager
            await self.changed()

    async def follow_swarm(self, is_manager: Callable[[], Awaitable[bool | None]]) -> None:
        """Run for the server's life: after the first tools/list (so that the engine is never
        asked before a client is answered), and whenever a call may have changed the swarm,
        ask ``is_manager`` (None: the engines could not say) and update the list."""
        await self.listed.wait()
        while True:
            manager = await is_manager()
            if manager is not None:
                await self.note_swarm(manager)
            await self.recheck.wait()
            self.recheck = anyio.Event()

    async def changed(self) -> None:
        """Tell every client that listed tools, in both protocol eras."""
        await self._bus.publish(ToolsListChanged())
        for connection in list(self._connections):
            with contextlib.suppress(Exception):  # a closed connection just misses it
                await connection.send_tool_list_changed()

    def attach(self, server: MCPServer[Any]) -> None:
        """Note the handshake-era connections that list tools (to notify them later)."""
        lowlevel = server._lowlevel_server  # the SDK's only seam for the connection behind a request
        entry = lowlevel.get_request_handler("tools/list")
        if entry is None:
            return
        served = entry.handler

        async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> Any:
            connection = getattr(ctx.session, "_connection", None)
            if connection is not None:
                self._connections.add(connection)
            return await served(ctx, params)

        lowlevel.add_request_handler("tools/list", entry.params_type, list_tools)

    def _listed(self, name: str) -> str:
        decl = self._catalog.get(name)
        return decl.listed if decl else "always"
