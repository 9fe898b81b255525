"""``completion/complete``: names for the ``docker://`` templates' and the prompts' arguments.

Names come from the engine the request's other arguments name (the default one otherwise), and
only when the listing tool that would show them is exposed there; under a label scope only
labelled containers, networks and volumes are offered (as ``list-containers`` would).
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server import MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from mcp_docker_server.engine import Catalog
from mcp_docker_server.errors import DockerServerError
from mcp_docker_server.policy import check_host_path
from mcp_docker_server.resources.access import LISTING, refusal
from mcp_docker_server.state import EngineSet, local_read_resolver

__all__ = ["MAX_VALUES", "register_completions"]

MAX_VALUES = 100  # the protocol's cap per answer
_KINDS = {
    "container": "container",
    "image": "image",
    "network": "network",
    "volume": "volume",
    "project": "project",
}


def register_completions(server: MCPServer[Any], engines: EngineSet, prompt_names: frozenset[str]) -> None:
    """Answer completion requests for our templates and prompts."""

    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        ours = (
            ref.uri.startswith("docker://")
            if isinstance(ref, ResourceTemplateReference)
            else ref.name in prompt_names
        )
        if not ours:
            return None
        given = (context.arguments if context else None) or {}
        if argument.name == "engine":
            return _answer([n for n in engines.names if n.startswith(argument.value)])
        if argument.name == "path":
            return _answer(_directories(argument.value, engines))
        kind = _KINDS.get(argument.name)
        if kind is None:
            return None
        return _answer(await _names(engines, given.get("engine"), kind, argument.value))

    server.completion()(complete)  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


async def _names(engines: EngineSet, engine: str | None, kind: str, prefix: str) -> list[str]:
    if engine not in (None, *engines.names):
        return []
    state = engines.get(engine)
    tool, action = LISTING[kind]
    scope = state.policy.label_scope
    if refusal(state, tool, action) is not None or (kind == "project" and scope):
        return []  # the listing tool would refuse: its names stay hidden
    try:
        found = await Catalog(state.engine).names(kind, scope)
    except DockerServerError:
        return []  # a completion is a convenience: an unreachable engine offers nothing
    return [n for n in found if n.startswith(prefix)]


def _directories(prefix: str, engines: EngineSet) -> list[str]:
    """Sub-folders matching a partial path, each one the containerize prompt would accept."""
    policy = engines.get(None).policy
    base, _, start = prefix.rpartition("/") if "/" in prefix else ("", "", prefix)
    folder = (base or "/") if prefix.startswith("/") else os.path.join(os.getcwd(), base)
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_dir() and e.name.startswith(start))
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(".") and not start.startswith("."):
            continue
        candidate = f"{base}/{name}" if "/" in prefix else name
        try:
            # The containerize prompt's folder becomes a build context: read here, never mounted.
            check_host_path(
                policy,
                os.path.join(folder, name),
                local_read_resolver,
                purpose="project folder",
                mounted=False,
            )
        except DockerServerError:
            continue  # /etc and friends are never offered
        out.append(candidate)
        if len(out) > MAX_VALUES:
            break
    return out


def _answer(values: list[str]) -> Completion:
    return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
