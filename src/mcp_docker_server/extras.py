"""Everything beside the tools: ``docker://`` resources and templates, live updates on them,
prompts, and completions for their arguments."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mcp.server import MCPServer

from mcp_docker_server.completions import register_completions
from mcp_docker_server.prompts import register_prompts
from mcp_docker_server.resources import register_resources
from mcp_docker_server.state import EngineSet
from mcp_docker_server.watch import LiveUpdates

__all__ = ["LiveUpdates", "register_extras"]


def register_extras(
    server: MCPServer[Any], engines: EngineSet, live: LiveUpdates, tools: Collection[str]
) -> None:
    """Add resources, subscriptions, prompts and completions to ``server``; ``tools`` are the
    names of the tools it exposes (prompts suggest only those)."""
    register_resources(server, engines)
    live.attach(server)
    register_completions(server, engines, register_prompts(server, engines, frozenset(tools)))
