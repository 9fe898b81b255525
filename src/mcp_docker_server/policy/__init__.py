"""Operator policy: pure checks that every mutating request passes through."""

from mcp_docker_server.policy.containers import admit_container, admit_exec, admit_volume
from mcp_docker_server.policy.model import Admitted, PathInfo, PathResolver, Policy, admit
from mcp_docker_server.policy.paths import check_bind_source, lexical_resolver

__all__ = [
    "Admitted",
    "PathInfo",
    "PathResolver",
    "Policy",
    "admit",
    "admit_container",
    "admit_exec",
    "admit_volume",
    "check_bind_source",
    "lexical_resolver",
]
