"""Swarm services pass the same rules as containers: what each task runs is a container."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.containers import admit_container, check_image, check_pinned, scope_labels
from mcp_docker_server.policy.model import Admitted, PathResolver, Policy, admit
from mcp_docker_server.specs.swarm import ServicePatch, ServiceSpec

__all__ = ["admit_service", "admit_service_patch"]


def admit_service(
    policy: Policy,
    spec: ServiceSpec,
    resolve: PathResolver,
    volume_options: Mapping[str, Mapping[str, str]] | None = None,
) -> Admitted[ServiceSpec]:
    """Approve a service: its task container is judged as a container would be (attaching to
    the ``host`` network counts as the host network namespace), defaults are injected, and
    the operator's scope label is put on the service too.

    Raises:
        PolicyDenied: naming the rule.
    """
    network = "host" if any(n.lower() == "host" for n in spec.networks) else None
    container = admit_container(
        policy, replace(spec.container, network=network), resolve, volume_options
    ).unwrap()
    return admit(
        replace(spec, container=replace(container, network=None), labels=scope_labels(policy, spec.labels))
    )


def admit_service_patch(policy: Policy, patch: ServicePatch) -> Admitted[ServicePatch]:
    """Approve a change to a service: a new image must pass the allowlist (a patch cannot
    touch mounts, networks or capabilities, so nothing else can widen what tasks may do).

    Raises:
        PolicyDenied: the image is outside the allowlist.
    """
    if patch.image is not None:
        check_image(policy, patch.image)
        check_pinned(policy, patch.image)
        if policy.require_signature:
            # An update is admitted synchronously, with no room to run cosign first.
            raise PolicyDenied(
                "require-signature",
                "a service update cannot have its new image's signature verified first",
                hint="remove the service and create it again with the new image (creation verifies it).",
                setting="require_signature = false",
            )
    return admit(patch)
