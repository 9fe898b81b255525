"""Policy checks for container creation and exec (pure)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import replace

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import Admitted, PathResolver, Policy, admit
from mcp_docker_server.policy.paths import check_bind_source
from mcp_docker_server.specs import ContainerSpec, ExecSpec, VolumeSpec, bind_device

__all__ = [
    "admit_container",
    "admit_exec",
    "admit_volume",
    "check_image",
    "check_pinned",
    "digest_pinned",
    "with_defaults",
]

_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
_UNCONFINED = ("seccomp=unconfined", "apparmor=unconfined", "label=disable", "label:disable")


def admit_container(
    policy: Policy,
    spec: ContainerSpec,
    resolve: PathResolver,
    volume_options: Mapping[str, Mapping[str, str]] | None = None,
) -> Admitted[ContainerSpec]:
    """Approve a container spec or raise on the first rule it breaks.

    ``volume_options`` holds the driver options of the existing named volumes the spec mounts:
    a volume whose options make it a bind mount is judged as a bind of its device.

    Raises:
        PolicyDenied: naming the rule, what was asked, and what to do instead.
    """
    check_image(policy, spec.image)
    check_pinned(policy, spec.image)
    if spec.privileged and not policy.allow_privileged:
        raise PolicyDenied(
            "privileged",
            "privileged containers have full access to the host",
            hint="drop privileged; add the one capability the workload needs with cap_add.",
            setting="allow_privileged = true",
        )
    _check_namespaces(policy, spec)
    if spec.devices and not policy.allow_devices:
        raise PolicyDenied(
            "devices",
            f"mapping host devices ({', '.join(spec.devices)}) is not allowed",
            hint="run without devices.",
            setting="allow_devices = true",
        )
    extra = sorted({c.upper().removeprefix("CAP_") for c in spec.cap_add} - policy.capability_allowlist)
    if extra:
        raise PolicyDenied(
            "cap-add",
            f"capabilities {', '.join(extra)} are outside the allowlist",
            hint="run without them; the default capability set covers most workloads.",
            setting="capability_allowlist",
        )
    for opt in spec.security_opt:
        if opt.replace(" ", "").lower() in _UNCONFINED and not policy.allow_unconfined:
            raise PolicyDenied(
                "unconfined",
                f"security_opt {opt!r} disables a kernel confinement",
                hint="drop that security_opt.",
                setting="allow_unconfined = true",
            )
    for mount in spec.mounts:
        if mount.propagation in ("shared", "rshared") and not policy.allow_sensitive_binds:
            raise PolicyDenied(
                "mount-propagation",
                f"{mount.propagation} propagation on {mount.target} lets mounts leak to the host",
                hint="use the default (private) propagation.",
                setting="allow_sensitive_binds = true",
            )
        if mount.kind == "bind":
            check_bind_source(policy, mount.source, resolve)
        elif mount.kind == "volume":
            device = bind_device((volume_options or {}).get(mount.source, {}))
            if device is not None:
                check_bind_source(policy, device, resolve)
    return admit(with_defaults(policy, spec))


def check_image(policy: Policy, image: str) -> None:
    """Refuse an image outside the operator's allowlist (when there is one).

    Raises:
        PolicyDenied: naming the allowlist.
    """
    if not policy.image_allowlist or image.startswith("(build of "):
        return
    candidates = {image, image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"}
    if not any(fnmatch.fnmatchcase(c, pattern) for c in candidates for pattern in policy.image_allowlist):
        raise PolicyDenied(
            "image-allowlist",
            f"{image} is not in the allowed images ({', '.join(policy.image_allowlist)})",
            hint="use an allowed image.",
            setting="image_allowlist",
        )


def digest_pinned(image: str) -> bool:
    """Whether ``image`` names content, not a movable tag: ``name[:tag]@sha256:<64 hex>`` or a
    full image id (short ids are prefixes that could match another image later)."""
    return bool(_PINNED.search(image.strip()) or _IMAGE_ID.fullmatch(image.strip()))


def check_pinned(policy: Policy, image: str) -> None:
    """Refuse an image named by tag when the operator requires digests.

    Raises:
        PolicyDenied: naming the setting and how to get the digest.
    """
    if not policy.require_digest or digest_pinned(image):
        return
    if image.startswith("(build of "):
        reason = f"compose service {image[10:-1]} builds its image, which has no digest to pin"
        hint = "build and push the image, then name it by digest in the compose file."
    else:
        reason = f"{image} is named by tag, and only digest-pinned images may run"
        hint = "use name@sha256:<digest>; image-security action=resolve-digest gives the digest of a tag."
    raise PolicyDenied("require-digest", reason, hint=hint, setting="require_digest = false")


def with_defaults(policy: Policy, spec: ContainerSpec) -> ContainerSpec:
    """The operator's injected defaults, where the request set nothing itself."""
    security = spec.security_opt
    if policy.no_new_privileges and not any(o.startswith("no-new-privileges") for o in security):
        security = (*security, "no-new-privileges")
    return replace(
        spec,
        labels=scope_labels(policy, spec.labels),
        security_opt=security,
        memory_bytes=spec.memory_bytes or policy.default_memory_bytes,
        nano_cpus=spec.nano_cpus or policy.default_nano_cpus,
        pids_limit=spec.pids_limit or policy.default_pids_limit,
    )


def scope_labels(policy: Policy, labels: Mapping[str, str]) -> dict[str, str]:
    """``labels`` plus the operator's scope label (``label_scope``), which a request cannot change."""
    out = dict(labels)
    if policy.label_scope:
        key, _, value = policy.label_scope.partition("=")
        out[key] = value
    return out


def in_scope(policy: Policy, labels: Mapping[str, str] | None) -> bool:
    """Whether a resource carrying ``labels`` is one the operator lets the server act on."""
    return not policy.label_scope or label_matches(policy.label_scope, labels)


def label_matches(selector: str, labels: object) -> bool:
    """Whether ``labels`` carry ``selector``: a key (any value) or ``key=value``."""
    key, sep, value = selector.partition("=")
    return isinstance(labels, Mapping) and key in labels and (not sep or labels[key] == value)


def admit_volume(policy: Policy, spec: VolumeSpec, resolve: PathResolver) -> Admitted[VolumeSpec]:
    """Approve a volume; bind-style driver options are judged as a bind mount of their device.

    Raises:
        PolicyDenied: the device is a path a bind mount may not expose.
    """
    if (device := bind_device(spec.driver_opts)) is not None:
        check_bind_source(policy, device, resolve)
    return admit(replace(spec, labels=scope_labels(policy, spec.labels)))


def _check_namespaces(policy: Policy, spec: ContainerSpec) -> None:
    if policy.allow_host_namespaces:
        return
    shared = {
        "network": spec.network,
        "pid": spec.pid_mode,
        "ipc": spec.ipc_mode,
        "uts": spec.uts_mode,
        "userns": spec.userns_mode,
    }
    for namespace, mode in shared.items():
        value = (mode or "").strip().lower()
        if value == "host" or value.startswith("container:"):
            raise PolicyDenied(
                f"host-{namespace}" if value == "host" else f"shared-{namespace}",
                f"{namespace} mode {mode!r} shares a namespace with "
                + ("the host" if value == "host" else "another container"),
                hint="use the default (private) namespace, or a user-defined network.",
                setting="allow_host_namespaces = true",
            )
    if spec.volumes_from:
        raise PolicyDenied(
            "volumes-from",
            "volumes_from copies another container's mounts, which this policy cannot inspect",
            hint="name the volumes to mount explicitly.",
            setting="allow_host_namespaces = true",
        )


def admit_exec(policy: Policy, spec: ExecSpec, default_user: str = "") -> Admitted[ExecSpec]:
    """Approve an exec or raise. ``default_user`` is the container's own user, which an exec
    without ``user`` runs as.

    Raises:
        PolicyDenied: for a privileged exec, or one as root when the operator forbids that.
    """
    effective = (spec.user or default_user).split(":")[0]
    if not policy.allow_root_exec and effective in ("", "0", "root"):
        raise PolicyDenied(
            "root-exec",
            f"exec in {spec.container} would run as root",
            hint='pass user, e.g. user="1000".',
            setting="allow_root_exec = true",
        )
    if spec.privileged and not policy.allow_privileged:
        raise PolicyDenied(
            "privileged",
            "privileged exec gives the process full host access",
            setting="allow_privileged = true",
        )
    return admit(spec)
