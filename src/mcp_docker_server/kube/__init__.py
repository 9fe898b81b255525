"""Kubernetes export, pure: a rendered Compose project, an inspected container or a swarm
service's spec to Kubernetes objects, what could not be translated and why, the offline schema
check of a pinned Kubernetes version, and the Pod Security Standard level the pods meet.
Nothing here talks to an engine or a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from mcp_docker_server.kube.checks import KUBERNETES_VERSION, pod_security, schema_errors
from mcp_docker_server.kube.sources import container_project, service_project
from mcp_docker_server.kube.translate import Gap, Manifests, dns_name, translate

__all__ = [
    "KUBERNETES_VERSION",
    "Gap",
    "Manifests",
    "container_project",
    "dns_name",
    "pod_security",
    "schema_errors",
    "service_project",
    "to_yaml",
    "translate",
]


class _PlainDumper(yaml.SafeDumper):
    """Writes a shared object twice rather than as an anchor and alias (``&id001``): the
    readiness probe is the liveness probe, and a reader should see both in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(docs: Iterable[Mapping[str, Any]]) -> str:
    """The objects as one multi-document YAML stream (``kubectl apply -f`` reads it)."""
    return yaml.dump_all(
        [dict(d) for d in docs], Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=1000
    )
