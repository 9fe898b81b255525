"""Every tool, declared once: its name, title, annotations, read actions, what label scope
means for it, and what it lists. The guard publishes and gates tools from these declarations,
the scope rules read their targets here, and resources, prompts and completions find the tool
that shows the same data here; nothing else spells a tool's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from mcp.types import ToolAnnotations

__all__ = [
    "CATALOG",
    "DESTRUCTIVE",
    "DESTRUCTIVE_OPEN",
    "Listed",
    "MUTATING_OPEN",
    "READ_ONLY",
    "READ_OPEN",
    "ScopeTarget",
    "ToolDecl",
    "ToolName",
    "listing_of",
]

# A hint whose value is the spec's default is left out: readOnlyHint false, destructiveHint true,
# idempotentHint false, openWorldHint true (every byte of the list is paid in every conversation).
# Those defaults are the cautious reading, so a client that ignores them errs on the safe side.
# destructiveHint is meaningless on a read-only tool and left out there too.
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# Mutating and may reach a registry (a missing image is pulled).
MUTATING_OPEN = ToolAnnotations(destructive_hint=False)
DESTRUCTIVE = ToolAnnotations(open_world_hint=False)
# Reads only, but may reach a registry or a vulnerability feed.
READ_OPEN = ToolAnnotations(read_only_hint=True, idempotent_hint=True)
# Creates and removes things, and may reach a registry (development containers).
DESTRUCTIVE_OPEN = ToolAnnotations()


# When tools/list shows a tool (tools/listing.py): always; only while an engine is a swarm
# manager; or as a one-line stub until it is first called (optional families).
Listed = Literal["always", "swarm", "on_demand"]


class ToolName(StrEnum):
    """The tools' names: the one place they are spelt (a typo elsewhere fails type checks)."""

    BUILD_IMAGE = "build-image"
    IMAGE_OPERATIONS = "image-operations"
    RUN_CONTAINER = "run-container"
    MANAGE_CONTAINER = "manage-container"
    LIST_CONTAINERS = "list-containers"
    INSPECT_CONTAINER = "inspect-container"
    CONTAINER_LOGS = "container-logs"
    CONTAINER_STATS = "container-stats"
    EXEC_CONTAINER = "exec-container"
    COMPOSE_STACK = "compose-stack"
    NETWORK_MANAGEMENT = "network-management"
    VOLUME_MANAGEMENT = "volume-management"
    DOCKER_SYSTEM = "docker-system"
    SWARM_MANAGEMENT = "swarm-management"
    SERVICE_MANAGEMENT = "service-management"
    STACK_MANAGEMENT = "stack-management"
    IMAGE_SECURITY = "image-security"
    KUBERNETES_EXPORT = "kubernetes-export"
    DEV_CONTAINER = "dev-container"


@dataclass(frozen=True)
class ScopeTarget:
    """Under ``label_scope``: the kind of resource a call names, the argument naming it, and
    the actions that name no existing resource (create, list)."""

    kind: str
    argument: str
    unscoped_actions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ToolDecl:
    """One tool's declaration.

    ``read_actions``: the actions of an action-routed tool that only read (read-only mode keeps
    them). ``scope``: what label scoping checks before a call. ``unscopable``: actions that
    sweep by pattern or change what no label marks, refused while a scope is set (``"*"``: the
    whole tool, for projects labelled by their own files). ``scoped_listing``: the action whose
    result rows are cut to the scope, and the result's field holding them. ``lists``: the kind
    of resource its ``lists_action`` lists (completions and resources answer to that action's
    rules).
    """

    name: str
    title: str
    annotations: ToolAnnotations
    read_actions: frozenset[str] = frozenset()
    scope: ScopeTarget | None = None
    unscopable: frozenset[str] = frozenset()
    scoped_listing: tuple[str, str] | None = None
    lists: str | None = None
    lists_action: str | None = None
    listed: Listed = "always"
    summary: str = ""
    module: str = ""
    experimental: bool = False


def _decl(
    name: str, title: str, annotations: ToolAnnotations, reads: tuple[str, ...] = (), **extra: object
) -> ToolDecl:
    return ToolDecl(name, title, annotations, frozenset(reads), **extra)  # type: ignore[arg-type]


_CONTAINER = ScopeTarget("container", "container_id")

CATALOG: Mapping[str, ToolDecl] = {
    decl.name: decl
    for decl in (
        _decl(ToolName.BUILD_IMAGE, "Build image", MUTATING_OPEN),
        _decl(
            ToolName.IMAGE_OPERATIONS,
            "Images",
            DESTRUCTIVE,
            ("list", "inspect", "history"),
            unscopable=frozenset({"prune", "remove"}),
            lists="image",
            lists_action="list",
        ),
        _decl(ToolName.RUN_CONTAINER, "Run container", MUTATING_OPEN),
        _decl(ToolName.MANAGE_CONTAINER, "Manage container", DESTRUCTIVE, scope=_CONTAINER),
        _decl(ToolName.LIST_CONTAINERS, "List containers", READ_ONLY, lists="container"),
        _decl(ToolName.INSPECT_CONTAINER, "Inspect container", READ_ONLY, scope=_CONTAINER),
        _decl(ToolName.CONTAINER_LOGS, "Container logs", READ_ONLY, scope=_CONTAINER),
        _decl(ToolName.CONTAINER_STATS, "Container stats", READ_ONLY, scope=_CONTAINER),
        _decl(ToolName.EXEC_CONTAINER, "Exec in container", DESTRUCTIVE, scope=_CONTAINER),
        _decl(
            ToolName.COMPOSE_STACK,
            "Compose stack",
            DESTRUCTIVE,
            ("ps", "logs", "config", "validate"),
            unscopable=frozenset({"*"}),
            lists="project",
            lists_action="ps",
        ),
        _decl(
            ToolName.NETWORK_MANAGEMENT,
            "Networks",
            DESTRUCTIVE,
            ("list", "inspect"),
            scope=ScopeTarget("network", "name", frozenset({"create", "list"})),
            unscopable=frozenset({"prune"}),
            scoped_listing=("list", "networks"),
            lists="network",
            lists_action="list",
        ),
        _decl(
            ToolName.VOLUME_MANAGEMENT,
            "Volumes",
            DESTRUCTIVE,
            ("list", "inspect"),
            scope=ScopeTarget("volume", "name", frozenset({"create", "list"})),
            unscopable=frozenset({"prune"}),
            scoped_listing=("list", "volumes"),
            lists="volume",
            lists_action="list",
        ),
        _decl(
            ToolName.DOCKER_SYSTEM,
            "Docker system",
            DESTRUCTIVE,
            ("engines", "info", "version", "df", "events"),
        ),
        _decl(
            ToolName.SWARM_MANAGEMENT,
            "Swarm",
            DESTRUCTIVE,
            ("status", "nodes", "inspect-node"),
            unscopable=frozenset({"init", "leave", "set-availability"}),
        ),
        _decl(
            ToolName.SERVICE_MANAGEMENT,
            "Swarm services",
            DESTRUCTIVE,
            ("list", "inspect", "tasks", "logs"),
            scope=ScopeTarget("service", "name", frozenset({"create", "list"})),
            scoped_listing=("list", "services"),
            listed="swarm",
        ),
        _decl(
            ToolName.STACK_MANAGEMENT,
            "Swarm stacks",
            DESTRUCTIVE,
            ("list", "services", "ps"),
            unscopable=frozenset({"*"}),
            listed="swarm",
        ),
        _decl(
            ToolName.IMAGE_SECURITY,
            "Image security",
            READ_OPEN,
            listed="on_demand",
            summary="Lint a Dockerfile; audit, SBOM, vulnerability-scan, resolve-digest or verify an image",
            module="mcp_docker_server.tools.security",
        ),
        _decl(
            ToolName.KUBERNETES_EXPORT,
            "Kubernetes export",
            READ_ONLY,
            listed="on_demand",
            summary="Kubernetes manifests from a Compose project, a container or a swarm service",
            module="mcp_docker_server.tools.kube",
        ),
        _decl(
            ToolName.DEV_CONTAINER,
            "Dev container",
            DESTRUCTIVE_OPEN,
            ("config",),
            unscopable=frozenset({"*"}),  # its Compose and build paths escape a label scope
            listed="on_demand",
            summary="Development containers from a folder's devcontainer.json (up, exec, stop...)",
            module="mcp_docker_server.tools.devcontainers",
            experimental=True,  # opt-in: it runs the Dev Containers CLI on the host (README)
        ),
    )
}


def listing_of(kind: str) -> ToolDecl:
    """The tool that lists resources of ``kind`` ("container", "image", "network", "volume",
    "project").

    Raises:
        KeyError: no tool lists that kind.
    """
    return next(decl for decl in CATALOG.values() if decl.lists == kind)
