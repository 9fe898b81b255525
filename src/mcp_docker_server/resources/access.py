"""Who may read what outside the tools: resources, prompts and completions answer to the same
operator rules as the tool that would show the same data, on the engine they read from.

Read-only mode never hides a read; a tool the operator removed (``deny_tools``, ``allow_tools``)
or an action he disabled (``deny_actions``) hides its resource too, and label scoping refuses
a resource outside the scope exactly as the tool does.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.exposure import exposure_refusal, tool_exposed
from mcp_docker_server.state import AppState
from mcp_docker_server.tools._scope import check_scope
from mcp_docker_server.tools.catalog import CATALOG

__all__ = ["LISTING", "check_read", "refusal"]

# Completion kind -> the listing tool (and action) that would show the same names.
LISTING: Mapping[str, tuple[str, str | None]] = {
    decl.lists: (decl.name, decl.lists_action) for decl in CATALOG.values() if decl.lists
}


def refusal(state: AppState, tool: str, action: str | None) -> PolicyDenied | None:
    """Why the operator's exposure rules hide ``tool`` (``action``) on this engine, if they do."""
    if not tool_exposed(state.policy, tool):
        return PolicyDenied(
            "denied-tool",
            f"{tool} is disabled on engine {state.name}, so is what it shows",
            setting="deny_tools",
        )
    # What is shown is read: read-only mode never hides it.
    return exposure_refusal(state.policy, tool, action, read_actions=(), read_only_tool=True)


async def check_read(
    state: AppState, tool: str, action: str | None, arguments: Mapping[str, object] | None = None
) -> None:
    """Refuse a read the equivalent tool call would refuse.

    Raises:
        PolicyDenied: the tool or action is disabled, or the target is outside the label scope.
        NotFound: a scoped target does not exist.
    """
    denied = refusal(state, tool, action)
    if denied is not None:
        raise denied
    await check_scope(tool, action, arguments or {}, state)
