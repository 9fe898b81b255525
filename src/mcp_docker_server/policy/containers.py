"""Policy checks for container creation and exec (pure)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import Admitted, PathResolver, Policy, admit
from mcp_docker_server.policy.paths import check_bind_source, check_host_path
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec
from mcp_docker_server.specs.volumes import VolumeSpec, bind_device, tmpfs_only, volume_host_paths

__all__ = [
    "admit_container",
    "admit_exec",
    "admit_volume",
    "check_capabilities",
    "check_image",
    "check_namespace",
    "check_pinned",
    "security_option",
    "check_volume_options",
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
    they are judged like a new volume's (:func:`check_volume_options`). Bind sources are
    replaced by their resolved real path, so a symlink swapped after the check changes nothing.

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
    check_capabilities(policy, spec.cap_add)
    for opt in spec.security_opt:
        key, value = security_option(opt)  # every spelling the engine accepts
        if f"{key}={value.lower()}" in _UNCONFINED and not policy.allow_unconfined:
            raise PolicyDenied(
                "unconfined",
                f"security_opt {opt!r} disables a kernel confinement",
                hint="drop that security_opt.",
                setting="allow_unconfined = true",
            )
    mounts = []
    for mount in spec.mounts:
        if mount.propagation in ("shared", "rshared") and not policy.allow_sensitive_binds:
            raise PolicyDenied(
                "mount-propagation",
                f"{mount.propagation} propagation on {mount.target} lets mounts leak to the host",
                hint="use the default (private) propagation.",
                setting="allow_sensitive_binds = true",
            )
        if mount.kind == "bind":
            mount = replace(mount, source=check_bind_source(policy, mount.source, resolve))
        elif mount.kind == "volume" and (options := (volume_options or {}).get(mount.source)):
            check_volume_options(policy, f"existing volume {mount.source}", "local", options, resolve)
        mounts.append(mount)
    return admit(with_defaults(policy, replace(spec, mounts=tuple(mounts))))


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
    """Approve a volume: its driver and driver options pass :func:`check_volume_options`. A bind
    device is replaced by its resolved real path (a link swapped later changes nothing).

    Raises:
        PolicyDenied: naming the driver or option, and the key that would allow it.
    """
    check_volume_options(policy, f"volume {spec.name}", spec.driver, spec.driver_opts, resolve)
    options = dict(spec.driver_opts)
    if (spec.driver or "local") == "local" and bind_device(options) is not None and options.get("device"):
        options["device"] = resolve(options["device"]).real_path
    return admit(replace(spec, driver_opts=options, labels=scope_labels(policy, spec.labels)))


def check_volume_options(
    policy: Policy, what: str, driver: str, options: Mapping[str, str], resolve: PathResolver
) -> None:
    """Refuse a volume that mounts something of the host's (fail closed).

    A plugin driver is refused unless ``allowed_volume_drivers`` names it. A ``local`` volume
    with driver options mounts whatever ``type``/``o``/``device`` say (a bind of a folder, an
    overlay over /etc, a disk, an NFS share): refused unless it is a plain ``tmpfs`` or the
    operator set ``allow_volume_mounts``. Folders it names (a bind device, overlay layers) pass
    the host path rule either way.

    Raises:
        PolicyDenied: naming the driver or option, and the key that would allow it.
    """
    name = (driver or "local").strip()
    if name != "local" and name not in policy.allowed_volume_drivers:
        raise PolicyDenied(
            "volume-driver",
            f"{what} uses the volume driver {name!r}, which this policy does not allow",
            hint="use the local driver (a plain named volume).",
            setting="allowed_volume_drivers",
        )
    if name != "local" or not options:
        return
    for path, purpose in volume_host_paths(options):
        if not path.startswith("/"):
            # The engine mounts it relative to its own working folder, not this server's (nor a
            # Compose project's): what the rule would judge is not what is mounted.
            raise PolicyDenied(
                "host-path",
                f"{what} {purpose} {path!r} is a relative path, which the engine resolves from its "
                "own working folder",
                hint="give the absolute path of the host folder.",
            )
        check_host_path(policy, path, resolve, purpose=f"{what} {purpose}")
    if not policy.allow_volume_mounts and not tmpfs_only(options):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        raise PolicyDenied(
            "volume-mount",
            f"{what} has driver options ({shown}) that make the engine mount something of the host's",
            hint="use a plain named volume (no options), or type=tmpfs.",
            setting="allow_volume_mounts = true",
        )


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
        check_namespace(policy, namespace, mode or "")
    if spec.volumes_from:
        raise PolicyDenied(
            "volumes-from",
            "volumes_from copies another container's mounts, which this policy cannot inspect",
            hint="name the volumes to mount explicitly.",
            setting="allow_host_namespaces = true",
        )


def security_option(option: str) -> tuple[str, str]:
    """Split a security option as the engine does: ``key=value``, the legacy ``key:value``, or a
    bare flag. Keys are case-folded; values keep their case (profile names, JSON).

    Follows moby ``daemon/create.go`` / ``parseSecurityOpt``.
    """
    text = option.strip()
    cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return text.lower(), ""
    return text[:cut].strip().lower(), text[cut + 1 :].strip()


def check_capabilities(policy: Policy, capabilities: Iterable[object]) -> None:
    """Refuse added capabilities outside ``capability_allowlist`` (any case, ``CAP_`` optional,
    as the engine reads them).

    Raises:
        PolicyDenied: rule ``cap-add``, naming the capabilities.
    """
    extra = sorted({str(c).upper().removeprefix("CAP_") for c in capabilities} - policy.capability_allowlist)
    if extra:
        raise PolicyDenied(
            "cap-add",
            f"capabilities {', '.join(extra)} are outside the allowlist",
            hint="run without them; the default capability set covers most workloads.",
            setting="capability_allowlist",
        )


def check_namespace(policy: Policy, namespace: str, mode: str) -> None:
    """Refuse a namespace mode that shares the host's (``host``) or another container's
    (``container:x``, Compose's ``service:x``), unless the operator allows it.

    Raises:
        PolicyDenied: rule ``host-<namespace>`` or ``shared-<namespace>``.
    """
    value = mode.strip().lower()
    shared = value.startswith(("container:", "service:"))
    if policy.allow_host_namespaces or not (value == "host" or shared):
        return
    raise PolicyDenied(
        f"host-{namespace}" if value == "host" else f"shared-{namespace}",
        f"{namespace} mode {mode!r} shares a namespace with "
        + ("the host" if value == "host" else "another container"),
        hint="use the default (private) namespace, or a user-defined network.",
        setting="allow_host_namespaces = true",
    )


def admit_exec(policy: Policy, spec: ExecSpec, default_user: str = "") -> Admitted[ExecSpec]:
    """Approve an exec or raise. ``default_user`` is the container's own user, which an exec
    without ``user`` runs as.

    Raises:
        PolicyDenied: for a privileged exec, or one as root when the operator forbids that.
    """
    effective = (spec.user or default_user).split(":")[0].strip()
    if not policy.allow_root_exec:
        # The uid the process gets: numbers are read as numbers (00, +0 are root); a name could
        # be any uid in the container's own /etc/passwd, which a container may rewrite.
        numeric = effective.lstrip("+-").isdigit()
        if effective in ("", "root") or (numeric and int(effective) == 0):
            raise PolicyDenied(
                "root-exec",
                f"exec in {spec.container} would run as root",
                hint='pass user, e.g. user="1000".',
                setting="allow_root_exec = true",
            )
        if not numeric:
            raise PolicyDenied(
                "root-exec",
                f"exec in {spec.container} would run as user {effective!r}, whose uid the container "
                "itself defines (it could be 0)",
                hint='pass the user as a number, e.g. user="1000".',
                setting="allow_root_exec = true",
            )
    if spec.privileged and not policy.allow_privileged:
        raise PolicyDenied(
            "privileged",
            "privileged exec gives the process full host access",
            setting="allow_privileged = true",
        )
    return admit(spec)
