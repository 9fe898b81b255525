"""Label scoping (policy ``label_scope``): the server acts only on resources carrying the
operator's label, and puts that label on everything it creates (see ``policy.scope_labels``).

Which argument names the target of each tool is listed here, so the guard checks it before the
tool runs. Tools whose resources the server cannot label (Compose and stack projects are
labelled by their own files) are refused while a scope is set, rather than let through.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, in_scope
from mcp_docker_server.tools._base import AppState

__all__ = ["check_scope", "scoped_arguments"]

# tool -> (kind of resource, argument naming it, actions that name no existing resource)
_TARGETS: Mapping[str, tuple[str, str, frozenset[str]]] = {
    "manage-container": ("container", "container_id", frozenset()),
    "inspect-container": ("container", "container_id", frozenset()),
    "container-logs": ("container", "container_id", frozenset()),
    "container-stats": ("container", "container_id", frozenset()),
    "exec-container": ("container", "container_id", frozenset()),
    "network-management": ("network", "name", frozenset({"create", "list"})),
    "volume-management": ("volume", "name", frozenset({"create", "list"})),
    "service-management": ("service", "name", frozenset({"create", "list"})),
}
# Actions that sweep by name pattern, or change what no label can mark (the node, images).
_UNSCOPABLE = {
    ("network-management", "prune"),
    ("volume-management", "prune"),
    ("image-operations", "prune"),
    ("image-operations", "remove"),
    ("swarm-management", "init"),
    ("swarm-management", "leave"),
    ("swarm-management", "set-availability"),
}
# Projects labelled by their own files, not by this server.
_UNLABELLED = {"compose-stack", "stack-management"}


def scoped_arguments(tool: str, arguments: dict[str, object], policy: Policy) -> dict[str, object]:
    """``arguments`` with the scope label added to a listing's label filter."""
    if policy.label_scope and tool == "list-containers":
        labels = arguments.get("label")
        arguments["label"] = [*(labels if isinstance(labels, list) else []), policy.label_scope]
    return arguments


async def check_scope(
    tool: str, action: str | None, arguments: Mapping[str, object], state: AppState
) -> None:
    """Refuse a call on a resource outside the operator's label scope.

    Raises:
        PolicyDenied: the target does not carry the label, or the tool cannot be scoped.
        NotFound: the target does not exist (the same error the tool would give).
    """
    scope = state.policy.label_scope
    if not scope:
        return
    if tool in _UNLABELLED or (tool, action) in _UNSCOPABLE:
        raise PolicyDenied(
            "label-scope",
            f"{tool}{' ' + action if action else ''} cannot be limited to resources labelled {scope}",
            hint="docker-system prune is scope-aware; other tools act on labelled resources.",
            setting="label_scope (unset it to allow this)",
        )
    target = _TARGETS.get(tool)
    if target is None:
        return
    kind, argument, unscoped_actions = target
    ref = arguments.get(argument)
    if action in unscoped_actions or not isinstance(ref, str):
        return
    if not in_scope(state.policy, await state.system.labels_of(kind, ref)):
        raise PolicyDenied(
            "label-scope",
            f"{kind} {ref} does not carry the label {scope}; this server acts only on resources that do",
            hint="act on resources this server created, or ask the operator.",
            setting="label_scope",
        )
