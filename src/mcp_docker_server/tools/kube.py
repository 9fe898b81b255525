"""kubernetes-export: Kubernetes manifests from a Compose project, a container or a swarm
service, checked offline against a pinned Kubernetes schema and the Pod Security Standards.

It only reads: the project is rendered by Compose itself (as compose-stack's ``config``
action does, with the same checks of every file Compose reads), a container or service is
read from the engine. Label scope applies as to the other reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_docker_server import kube
from mcp_docker_server.compose import ComposePlan
from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import in_scope
from mcp_docker_server.results.kube import KubeExport, Untranslated
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import line_progress
from mcp_docker_server.tools.catalog import CATALOG, ToolName
from mcp_docker_server.tools.compose import ComposeSession, compose_files

__all__ = ["register"]

Kind = Literal["compose", "container", "service"]


async def kubernetes_export(
    guard: Guard,
    source: Annotated[
        str,
        Field(min_length=1, max_length=1024, description="Compose file/folder, container, or swarm service."),
    ],
    ctx: Context[Any],
    kind: Kind = "compose",
) -> KubeExport:
    """Kubernetes YAML from a Compose project, container or swarm service; schema and Pod Security checked."""
    await _check_scope(guard, kind, source)
    if kind == "compose":
        config = await _render(guard, source, ctx)
    elif kind == "container":
        desc = await guard.state.admission.container(source)
        config = kube.container_project(desc.name, desc.config, desc.host_config)
    else:
        name, template, networks, _, _ = await guard.state.admission.service(source)
        row = await guard.state.swarm.service(source)
        config = kube.service_project(
            name, template, networks, mode=row.mode, replicas=row.desired, ports=row.ports
        )
    # An engine object's environment values are hidden as inspect-container hides them.
    return _export(source, kube.translate(config, hide_env=kind != "compose"))


def register(guard: Guard) -> None:
    """Add kubernetes-export to the guard's tool list."""
    guard.add(kubernetes_export, CATALOG[ToolName.KUBERNETES_EXPORT])


async def _render(guard: Guard, source: str, ctx: Context[Any]) -> dict[str, Any]:
    """The project as Compose renders it, after the checks compose-stack's ``config`` runs.

    Raises:
        PolicyDenied: a file Compose would read breaks the host-path rule.
        ComposeError: Compose could not render the project.
    """
    plan = ComposePlan(files=compose_files(source, ()), project=None, action="config")
    # Rendered with none of the server's variables (but allowlisted ones): the YAML shows
    # values, and `${VAR}` must not print the server's secrets into it.
    session = ComposeSession(guard, plan, line_progress(ctx), guard.state.compose_isolated)
    await session.check_inputs()
    await session.check_env_files()
    return await session.render()


async def _check_scope(guard: Guard, kind: Kind, source: str) -> None:
    """Under ``label_scope``, only labelled containers and services; Compose projects are
    labelled by their own files, so they are refused as compose-stack refuses them.

    Raises:
        PolicyDenied: the source is outside the scope, or is a Compose project.
        NotFound: the container or service does not exist.
    """
    scope = guard.state.policy.label_scope
    if not scope:
        return
    if kind == "compose":
        raise PolicyDenied(
            "label-scope",
            f"a Compose project cannot be limited to resources labelled {scope}",
            hint="export a labelled container or service instead.",
            setting="label_scope (unset it to allow this)",
        )
    if not in_scope(guard.state.policy, await guard.state.system.labels_of(kind, source)):
        raise PolicyDenied(
            "label-scope",
            f"{kind} {source} does not carry the label {scope}; this server acts only on resources that do",
            hint="act on resources this server created, or ask the operator.",
            setting="label_scope",
        )


def _export(source: str, manifests: kube.Manifests) -> KubeExport:
    errors = kube.schema_errors(manifests.docs)
    level, why = kube.pod_security(manifests.docs)
    count, version = len(manifests.docs), kube.KUBERNETES_VERSION
    return KubeExport(
        source=source,
        objects=[f"{d['kind']}/{d['metadata']['name']}" for d in manifests.docs],
        yaml=kube.to_yaml(manifests.docs),
        untranslated=[
            Untranslated(service=g.service, field=g.field, why=g.why, instead=g.instead)
            for g in manifests.gaps
        ],
        commands=manifests.commands or None,
        schema_check=f"{count - len(errors)} of {count} objects valid for Kubernetes {version} (offline)",
        schema_errors=errors or None,
        pod_security=level,
        pod_security_gaps=why or None,
    )
