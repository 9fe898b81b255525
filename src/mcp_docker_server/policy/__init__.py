"""Operator policy: pure checks that every mutating request passes through."""

from mcp_docker_server.policy.containers import (
    admit_container,
    admit_exec,
    admit_volume,
    check_image,
    check_pinned,
    check_volume_options,
    digest_pinned,
    in_scope,
    label_matches,
    scope_labels,
)
from mcp_docker_server.policy.load import CONFIRM_MODES, load_policy
from mcp_docker_server.policy.model import Admitted, PathInfo, PathResolver, Policy, admit
from mcp_docker_server.policy.paths import (
    check_bind_source,
    check_host_path,
    check_not_container_writable,
    lexical_resolver,
)
from mcp_docker_server.policy.services import admit_service, admit_service_patch

__all__ = [
    "CONFIRM_MODES",
    "check_image",
    "check_pinned",
    "digest_pinned",
    "load_policy",
    "Admitted",
    "PathInfo",
    "PathResolver",
    "Policy",
    "admit",
    "admit_container",
    "admit_exec",
    "admit_service",
    "admit_service_patch",
    "admit_volume",
    "check_bind_source",
    "check_not_container_writable",
    "check_host_path",
    "check_volume_options",
    "in_scope",
    "label_matches",
    "scope_labels",
    "lexical_resolver",
]
