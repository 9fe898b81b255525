"""Label scoping (policy ``label_scope``): the server acts only on resources carrying the
operator's label, and puts that label on everything it creates (see ``policy.scope_labels``).

Which argument names the target of each tool is listed here, so the guard checks it before the
tool runs. Tools whose resources the server cannot label (Compose and stack projects are
labelled by their own files) are refused while a scope is set, rather than let through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from mcp_docker_server.errors import InvalidArgument, NotFound, PolicyDenied
from mcp_docker_server.policy import Policy, in_scope
from mcp_docker_server.specs.containers import parse_volumes
from mcp_docker_server.state import AppState
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["check_scope", "scoped_arguments", "scoped_result"]

R = TypeVar("R")

# From the tools' declarations: what each call names, what cannot be scoped, which listings
# are cut to the scope.
_TARGETS = {name: decl.scope for name, decl in CATALOG.items() if decl.scope is not None}
_UNSCOPABLE = {(name, action) for name, decl in CATALOG.items() for action in decl.unscopable}
_LISTINGS = {
    (name, decl.scoped_listing[0]): (decl.scope.kind if decl.scope else "", decl.scoped_listing[1])
    for name, decl in CATALOG.items()
    if decl.scoped_listing is not None
}
# Networks every engine has, which no label marks: `bridge` (also "default") is where a
# container goes when no network is named; `host` and `none` are judged by the container rules.
_BUILTIN_NETWORKS = frozenset({"bridge", "default", "host", "none"})


def scoped_arguments(tool: str, arguments: dict[str, object], policy: Policy) -> dict[str, object]:
    """``arguments`` with the scope label added to a listing's label filter, and to the
    filters of ``docker-system events`` (the engine keeps only events of labelled objects)."""
    if policy.label_scope and tool == ToolName.LIST_CONTAINERS:
        labels = arguments.get("label")
        arguments["label"] = [*(labels if isinstance(labels, list) else []), policy.label_scope]
    if policy.label_scope and tool == ToolName.DOCKER_SYSTEM and arguments.get("action") == "events":
        given_filters = arguments.get("filters")
        filters = dict(given_filters) if isinstance(given_filters, Mapping) else {}
        given = filters.get("label")
        labels = [given] if isinstance(given, str) else list(given or [])
        filters["label"] = [*labels, policy.label_scope]
        arguments["filters"] = filters
    return arguments


async def scoped_result(tool: str, action: str | None, result: R, state: AppState) -> R:
    """A listing of networks, volumes or services cut to those carrying the scope label (the
    engine's own label filter names them); any other result unchanged."""
    scope = state.policy.label_scope
    listing = _LISTINGS.get((tool, action or ""))
    if not scope or listing is None or not isinstance(result, BaseModel):
        return result
    kind, field = listing
    rows = getattr(result, field, None)
    if not rows:
        return result
    names = await state.system.labelled(kind, scope)
    return result.model_copy(update={field: [row for row in rows if row.name in names]})


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
    if (tool, "*") in _UNSCOPABLE or (tool, action) in _UNSCOPABLE:
        raise PolicyDenied(
            "label-scope",
            f"{tool}{' ' + action if action else ''} cannot be limited to resources labelled {scope}",
            hint="docker-system prune is scope-aware; other tools act on labelled resources.",
            setting="label_scope (unset it to allow this)",
        )
    await _check_named_resources(tool, action, arguments, state)
    target = _TARGETS.get(tool)
    if target is None:
        return
    kind, argument = target.kind, target.argument
    ref = arguments.get(argument)
    if action in target.unscoped_actions or not isinstance(ref, str):
        return
    if not in_scope(state.policy, await state.system.labels_of(kind, ref)):
        raise PolicyDenied(
            "label-scope",
            f"{kind} {ref} does not carry the label {scope}; this server acts only on resources that do",
            hint="act on resources this server created, or ask the operator.",
            setting="label_scope",
        )


async def _check_named_resources(
    tool: str, action: str | None, arguments: Mapping[str, object], state: AppState
) -> None:
    """What a call names besides its target: the network and named volumes of a new container
    or service, the containers a network connects or disconnects.

    Raises:
        PolicyDenied: one of them does not carry the label, or does not exist yet (the engine
            would create it without the label).
        NotFound: a network or container does not exist.
    """
    if tool == ToolName.NETWORK_MANAGEMENT and action in ("connect", "disconnect"):
        for container in _strings(arguments.get("containers")):
            await _in_scope(state, "container", container)
        return
    if tool == ToolName.RUN_CONTAINER:
        networks = _strings(arguments.get("network"))
    elif tool == ToolName.SERVICE_MANAGEMENT and action == "create":
        networks = _strings(arguments.get("networks"))
    else:
        return
    for network in networks:
        if network.startswith("container:"):
            await _in_scope(state, "container", network.removeprefix("container:"))
        elif network not in _BUILTIN_NETWORKS:
            await _in_scope(state, "network", network)
    for volume in _named_volumes(arguments.get("volumes")):
        await _in_scope(state, "volume", volume)


async def _in_scope(state: AppState, kind: str, ref: str) -> None:
    scope = state.policy.label_scope
    try:
        labels = await state.system.labels_of(kind, ref)
    except NotFound:
        if kind != "volume":
            raise
        raise PolicyDenied(
            "label-scope",
            f"volume {ref} does not exist: the engine would create it without the label {scope}",
            hint="create it first with volume-management action=create (it then carries the label).",
            setting="label_scope",
        ) from None
    if not in_scope(state.policy, labels):
        raise PolicyDenied(
            "label-scope",
            f"{kind} {ref} does not carry the label {scope}; this server acts only on resources that do",
            hint=f"use a {kind} this server created, or ask the operator.",
            setting="label_scope",
        )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _named_volumes(value: object) -> list[str]:
    """The named volumes among run-container/service volume arguments (binds and tmpfs are
    judged by the path rules). Arguments the tool will refuse anyway are skipped here."""
    if not isinstance(value, list):
        return []
    items = [v.model_dump(exclude_none=True) if isinstance(v, BaseModel) else v for v in value]
    try:
        mounts = parse_volumes([v for v in items if isinstance(v, str | Mapping)])
    except InvalidArgument:
        return []
    return sorted({m.source for m in mounts if m.kind == "volume" and m.source})
