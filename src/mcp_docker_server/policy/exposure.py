"""Exposure: which tools exist and which of their actions may run, under the operator's
``read_only``, ``allow_tools``, ``deny_tools`` and ``deny_actions`` (pure).

The one statement of the rule: the guard publishes and gates tools with it, the tool list
offers only the actions it allows, and resources, prompts and completions hide what the
equivalent tool would not show.
"""

from __future__ import annotations

from collections.abc import Collection

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import Policy

__all__ = ["action_allowed", "exposure_refusal", "tool_exposed"]


def tool_exposed(policy: Policy, tool: str) -> bool:
    """Whether ``allow_tools``/``deny_tools`` let ``tool`` exist at all."""
    return tool not in policy.deny_tools and (not policy.allow_tools or tool in policy.allow_tools)


def action_allowed(
    policy: Policy, tool: str, action: str | None, *, read_actions: Collection[str], read_only_tool: bool
) -> bool:
    """Whether ``action`` of ``tool`` (None: a tool without actions) may run: the tool exists,
    the action is not denied, and read-only mode leaves it (a read-only tool, or a read action)."""
    return (
        exposure_refusal(policy, tool, action, read_actions=read_actions, read_only_tool=read_only_tool)
        is None
    )


def exposure_refusal(
    policy: Policy,
    tool: str,
    action: str | None,
    *,
    read_actions: Collection[str],
    read_only_tool: bool,
) -> PolicyDenied | None:
    """Why the operator's exposure rules refuse ``tool`` (``action``), or None when they allow it.

    ``read_only_tool`` is true for a tool that only reads (read-only mode never refuses it);
    ``read_actions`` are the actions of an action-routed tool that only read.
    """
    label = f"{tool} {action}" if action else tool
    if not tool_exposed(policy, tool):
        return PolicyDenied(
            "denied-tool", f"{tool} is disabled by the operator", setting="deny_tools / allow_tools"
        )
    if policy.read_only and not read_only_tool and (action is None or action not in read_actions):
        return PolicyDenied(
            "read-only",
            f"{label} changes state and this server is read-only",
            hint=f"read actions still work: {', '.join(sorted(read_actions)) or 'none here'}.",
            setting="read_only = false",
        )
    if f"{tool}:*" in policy.deny_actions or (action and f"{tool}:{action}" in policy.deny_actions):
        return PolicyDenied("denied-action", f"{label} is disabled by the operator", setting="deny_actions")
    return None
