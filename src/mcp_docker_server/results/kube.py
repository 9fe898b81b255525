"""What kubernetes-export returns."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["KubeExport", "Untranslated"]


class Untranslated(Compact):
    """A field with no faithful Kubernetes form: where, why, and the usual alternative."""

    service: str
    field: str
    why: str
    instead: str


class KubeExport(Compact):
    """Kubernetes manifests for a Compose project, a container or a swarm service."""

    source: str
    objects: list[str] = Field(description="Kind/name, in apply order.")
    yaml: str
    untranslated: list[Untranslated] = Field(default_factory=list)
    commands: list[str] | None = Field(
        default=None, description="Run before kubectl apply: they create the referenced Secrets/ConfigMaps."
    )
    schema_check: str = Field(description="Result of the offline OpenAPI schema check.")
    schema_errors: list[str] | None = None
    pod_security: str = Field(
        description="Pod Security Standard level met: restricted, baseline or privileged."
    )
    pod_security_gaps: list[str] | None = Field(
        default=None, description="What keeps it from the next level."
    )
