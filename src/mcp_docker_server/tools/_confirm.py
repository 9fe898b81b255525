"""Confirmation of destructive actions, through MCP elicitation.

Each destructive tool takes a hidden ``confirmation`` parameter filled by one of the resolvers
below (the SDK's era-portable Resolve/Elicit: a live elicitation on 2025-11-25 sessions, an
input-required round trip on 2026-07-28). A resolver asks only when the call is destructive;
a client that cannot ask the user gets a refusal naming the operator setting that trusts the
client's own approval instead. Resolvers live at module level so the SDK can read their types.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.policy.builds import parse_cache
from mcp_docker_server.state import EngineSet
from mcp_docker_server.tools.catalog import ToolName

__all__ = [
    "Confirm",
    "ask",
    "confirm_build",
    "confirm_compose",
    "confirm_image",
    "confirm_manage",
    "confirm_network",
    "confirm_volume",
    "ensure_confirmed",
    "push_destination",
]


class Confirm(BaseModel):
    """The user's answer."""

    confirm: bool = Field(description="Go ahead?")


def ask(
    ctx: Context[Any], tool: str, action: str, question: str | None, engine: str | None
) -> Confirm | Elicit[Confirm]:
    if question is None:
        return Confirm(confirm=True)
    engines: EngineSet = ctx.request_context.lifespan_context
    policy = engines.policy_for(engine)
    if policy is None:
        return Confirm(confirm=True)  # no such engine: the guard refuses the call right after
    gated = policy.read_only or {f"{tool}:*", f"{tool}:{action}"} & set(policy.deny_actions)
    if policy.confirm == "client-approval" or gated or (engines.several and engine is None):
        # Gated calls, and changes that name no engine, are refused by the guard right after:
        # never ask the user about them.
        return Confirm(confirm=True)
    if engines.several:
        question += f" on engine {engine}"
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        raise ToolError(
            f"Not done: '{question}' needs the user's confirmation, and this client cannot ask for it "
            "(it does not support MCP elicitation). Nothing was changed. Ask the user to run it "
            "themselves, or the operator can set MCP_DOCKER_CONFIRM=client-approval (confirm = "
            '"client-approval" in the policy file) to rely on the client\'s own approval of each call.'
        )
    return Elicit(question, Confirm)


def ensure_confirmed(confirmation: ElicitationResult[Confirm] | Confirm) -> None:
    """Go on only with a yes; a no or a dismissed question changes nothing.

    Raises:
        ToolError: the user declined or cancelled.
    """
    if isinstance(confirmation, Confirm) and confirmation.confirm:
        return
    if isinstance(confirmation, AcceptedElicitation) and confirmation.data.confirm:
        return
    outcome = getattr(confirmation, "action", "declined")
    raise ToolError(f"Not done: the user did not confirm ({outcome}). Nothing was changed.")


async def confirm_manage(
    container_id: str, action: str, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """remove and kill ask first."""
    question = f"{action} container {container_id}" if action in ("remove", "kill") else None
    return ask(ctx, ToolName.MANAGE_CONTAINER, action, question, engine)


async def confirm_image(
    image: str, action: str, ctx: Context[Any], engine: str | None = None, registry: str | None = None
) -> Confirm | Elicit[Confirm]:
    """remove, prune and push ask first; a push names where the image goes."""
    if action == "prune":
        return ask(ctx, ToolName.IMAGE_OPERATIONS, action, "prune dangling images", engine)
    question = None
    if action == "remove":
        question = f"remove image {image}"
    elif action == "push":
        host, repository, tag = push_destination(image, registry)
        question = f"push image {image} to registry {host}, repository {repository}, tag {tag}"
    return ask(ctx, ToolName.IMAGE_OPERATIONS, action, question, engine)


async def confirm_build(
    tag: str, ctx: Context[Any], engine: str | None = None, cache_to: list[str] | None = None
) -> Confirm | Elicit[Confirm]:
    """A build that exports its cache to a registry pushes the build's layers there: it asks
    first, naming where they go."""
    places = []
    for entry in cache_to or []:
        try:
            parsed = parse_cache(entry, "cache_to")
        except InvalidArgument:
            continue  # the tool's own check says what is wrong, before anything runs
        if parsed.type == "registry":
            host, repository, _ = push_destination(parsed.get("ref") or "", None)
            places.append(f"registry {host}, repository {repository}")
    question = f"push the build cache of {tag} to {'; '.join(places)}" if places else None
    return ask(ctx, ToolName.BUILD_IMAGE, "build", question, engine)


def push_destination(image: str, registry: str | None) -> tuple[str, str, str]:
    """Where a push of ``image`` (with the call's ``registry``) goes, as the engine reads the
    reference: (registry host, repository, tag). ``app`` is docker.io, library/app, latest;
    ``127.0.0.1:5000/team/app:v2`` is 127.0.0.1:5000, team/app, v2."""
    ref = image.strip()
    if registry:
        host = registry.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        if not ref.startswith(host + "/"):
            ref = f"{host}/{ref}"
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = name[colon + 1 :] if colon > slash else ""
    name = name[:colon] if colon > slash else name
    first, sep, rest = name.partition("/")
    # The distribution rule: a first component with a dot or a port, or localhost, is a registry.
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), rest
    else:
        host, path = "docker.io", name
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
        path = path if "/" in path else f"library/{path}"
    return host, path, tag or (f"@{digest}" if digest else "latest")


async def confirm_network(
    name: str, action: str, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """remove and prune ask first."""
    question = f"{action} network {name}" if action in ("remove", "prune") else None
    return ask(ctx, ToolName.NETWORK_MANAGEMENT, action, question, engine)


async def confirm_volume(
    name: str, action: str, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """remove and prune ask first (volumes hold data)."""
    question = f"{action} volume {name} and its data" if action in ("remove", "prune") else None
    return ask(ctx, ToolName.VOLUME_MANAGEMENT, action, question, engine)


async def confirm_compose(
    compose_file: str, action: str, remove_volumes: bool, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """`down` with its volumes asks first."""
    destructive = action == "down" and remove_volumes
    return ask(
        ctx,
        ToolName.COMPOSE_STACK,
        action,
        f"down {compose_file} and delete its volumes" if destructive else None,
        engine,
    )
