"""Blocking name listings (for completions) and Compose project state, read from the Engine API.

A Compose project is found by the labels Compose puts on its containers, so no compose file is
needed to show it. Names are cleaned like every other string read from Docker.
"""

from __future__ import annotations

from typing import Any

import docker

from mcp_docker_server.policy import label_matches
from mcp_docker_server.results import shaping
from mcp_docker_server.results.compose import ComposeService

Raw = dict[str, Any]
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def names(client: docker.DockerClient, kind: str, scope_label: str | None) -> list[str]:
    """Names of every container, image (repo:tag), network, volume or Compose project, sorted.

    ``scope_label`` keeps only resources carrying the operator's scope label (images carry none
    that matter: the image tools are not scoped).
    """
    api: Any = client.api
    found: set[str] = set()
    if kind == "container":
        for item in api.containers(all=True):
            if _in_scope(item.get("Labels"), scope_label):
                found.update(str(n).lstrip("/") for n in item.get("Names") or [])
    elif kind == "project":
        for item in api.containers(all=True, filters={"label": [PROJECT_LABEL]}):
            if _in_scope(item.get("Labels"), scope_label):
                found.add(str((item.get("Labels") or {}).get(PROJECT_LABEL, "")))
    elif kind == "image":
        for item in api.images():
            found.update(t for t in item.get("RepoTags") or [] if t != "<none>:<none>")
    elif kind == "network":
        found.update(
            str(n.get("Name", "")) for n in api.networks() if _in_scope(n.get("Labels"), scope_label)
        )
    elif kind == "volume":
        volumes = (api.volumes() or {}).get("Volumes") or []
        found.update(str(v.get("Name", "")) for v in volumes if _in_scope(v.get("Labels"), scope_label))
    return sorted(shaping.clean_text(name) for name in found if name)


def compose_project(client: docker.DockerClient, project: str) -> list[ComposeService]:
    """Every container of a Compose project (running or not), one request."""
    raw: list[Raw] = client.api.containers(all=True, filters={"label": [f"{PROJECT_LABEL}={project}"]})
    out = []
    for item in raw:
        labels = item.get("Labels") or {}
        status = str(item.get("Status") or "")
        out.append(
            ComposeService(
                service=shaping.clean_text(str(labels.get(SERVICE_LABEL, "?"))),
                name=shaping.clean_text(str((item.get("Names") or ["?"])[0]).lstrip("/")),
                state=str(item.get("State") or ""),
                health=shaping.health_from_status(status),
                exit_code=_exit_code(status),
                ports=shaping.format_ports(item.get("Ports") or []),
            )
        )
    return sorted(out, key=lambda s: (s.service, s.name))


def _exit_code(status: str) -> int | None:
    # The list endpoint says "Exited (137) 5 minutes ago"; one request beats an inspect each.
    if status.startswith("Exited (") and ")" in status:
        code = status[len("Exited (") : status.index(")")]
        return int(code) if code.lstrip("-").isdigit() else None
    return None


def _in_scope(labels: object, scope_label: str | None) -> bool:
    return scope_label is None or label_matches(scope_label, labels)
