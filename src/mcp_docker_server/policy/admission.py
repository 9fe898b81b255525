"""Admission over the engine's own description of a container (pure).

Every way a container comes to exist or to run (run-container, Compose, exec, start, restart,
unpause, services and stacks) ends here: the Engine API's canonical container configuration
(the create body, or ``Config`` + ``HostConfig`` + networks of an inspect) is judged field by
field. The tables below are an allowlist that fails closed: a field is known to be harmless,
judged, or refused unless the operator opens it by name (``allow_container_fields``). A field
this code does not know (a newer engine's) is refused while it carries a value, with a message
naming it; an unknown field left at its zero value changes nothing and is let through, since
newer engines report every field they have.

The field names and their meaning follow moby's ``api/types/container`` (``hostconfig.go``,
``config.go``) and ``api/types/mount`` as of Engine API 1.51.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.containers import (
    admit_volume,
    check_capabilities,
    check_image,
    check_namespace,
    check_pinned,
    security_option,
)
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.policy.networks import judge_network
from mcp_docker_server.policy.paths import (
    check_bind_source,
    check_not_container_writable,
    check_writers_listed,
)
from mcp_docker_server.specs.volumes import VolumeSpec, volume_host_paths

__all__ = [
    "HARMLESS_CONFIG",
    "parse_bind",
    "security_option",
    "HARMLESS_HOST_CONFIG",
    "JUDGED_HOST_CONFIG",
    "SAFE_SYSCTLS",
    "Bind",
    "ContainerDescription",
    "NetworkInfo",
    "VolumeInfo",
    "judge_container",
    "judge_nesting",
    "judge_task_template",
    "listed_binds",
    "own_binds",
    "service_binds",
    "volume_binds",
    "writable_folders",
]

# HostConfig fields that cannot give a container more of the host than a default container:
# resource limits and accounting, DNS and hosts entries, port publishing, restart behaviour.
HARMLESS_HOST_CONFIG = frozenset(
    {
        "AutoRemove", "BlkioDeviceReadBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteBps",
        "BlkioDeviceWriteIOps", "BlkioWeight", "BlkioWeightDevice", "CapDrop", "ConsoleSize",
        "ContainerIDFile", "CpuCount", "CpuPercent", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
        "CpuRealtimeRuntime", "CpuShares", "CpusetCpus", "CpusetMems", "Dns", "DnsOptions",
        "DnsSearch", "ExtraHosts", "GroupAdd", "IOMaximumBandwidth", "IOMaximumIOps", "Init",
        "KernelMemory", "KernelMemoryTCP", "Memory", "MemoryReservation", "MemorySwap",
        "MemorySwappiness", "NanoCpus", "OomKillDisable", "PidsLimit", "PortBindings",
        "PublishAllPorts", "ReadonlyRootfs", "RestartPolicy", "ShmSize", "Tmpfs", "Ulimits",
    }
)  # fmt: skip

# HostConfig fields judged below, each by its own rule.
JUDGED_HOST_CONFIG = frozenset(
    {
        "Annotations", "Binds", "CapAdd", "Cgroup", "CgroupParent", "CgroupnsMode", "Links",
        "DeviceCgroupRules", "DeviceRequests", "Devices", "IpcMode", "Isolation", "LogConfig",
        "MaskedPaths", "Mounts", "NetworkMode", "OomScoreAdj", "PidMode", "Privileged",
        "ReadonlyPaths", "Runtime", "SecurityOpt", "StorageOpt", "Sysctls", "UTSMode",
        "UsernsMode", "VolumeDriver", "VolumesFrom",
    }
)  # fmt: skip

# Config fields: what the process is and how it is wired, nothing of the host. Image is judged.
HARMLESS_CONFIG = frozenset(
    {
        "ArgsEscaped", "AttachStderr", "AttachStdin", "AttachStdout", "Cmd", "Domainname",
        "Entrypoint", "Env", "ExposedPorts", "Healthcheck", "Hostname", "Labels", "MacAddress",
        "NetworkDisabled", "OnBuild", "OpenStdin", "Shell", "StdinOnce", "StopSignal",
        "StopTimeout", "Tty", "User", "Volumes", "WorkingDir",
    }
)  # fmt: skip

# Namespaced sysctls that affect only the container (Kubernetes' "safe" set).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip

# The engine's default masked and read-only paths (moby oci/defaults.go, 20.10 onwards): a
# container without them sees the host's /proc and /sys (`--security-opt systempaths=unconfined`).
_MASKED = frozenset(
    {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
     "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
)  # fmt: skip
_READ_ONLY = frozenset({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})
_RUNTIMES = frozenset({"", "runc", "io.containerd.runc.v2"})
_LOG_DRIVERS = frozenset({"", "json-file", "local", "journald", "none"})
_NAMESPACE_FIELDS = {
    "NetworkMode": "network",
    "PidMode": "pid",
    "IpcMode": "ipc",
    "UTSMode": "uts",
    "UsernsMode": "userns",
    "Cgroup": "cgroup",
}
_PROPAGATION_LEAKS = frozenset({"shared", "rshared"})

# A host folder a container mounts: (source, read-write, container name).
Bind = tuple[str, bool, str]


@dataclass(frozen=True)
class VolumeInfo:
    """A named volume as the engine reports it: its driver and driver options."""

    driver: str = "local"
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkInfo:
    """A network as the engine reports it: its driver and driver options."""

    driver: str = "bridge"
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerDescription:
    """What the engine will run, in the Engine API's own terms.

    ``config`` and ``host_config`` are the create body's ``Config`` part and ``HostConfig`` (or
    the same objects from an inspect); ``networks`` maps network names to endpoint settings;
    ``volumes`` describes every named volume the container mounts; ``cgroup_version`` is the
    engine's ("1" or "2", from its info). ``built_images`` are images this call built itself,
    which the image allowlist does not apply to (as for Compose ``build:`` services).
    """

    name: str
    config: Mapping[str, Any]
    host_config: Mapping[str, Any]
    networks: Mapping[str, Any] = field(default_factory=dict)
    volumes: Mapping[str, VolumeInfo] = field(default_factory=dict)
    cgroup_version: str = "2"
    built_images: frozenset[str] = frozenset()
    # The networks it joins as the engine reports them (a macvlan made elsewhere, a bridge
    # that adopted a host bridge): judged like a network being created.
    network_infos: Mapping[str, NetworkInfo] = field(default_factory=dict)
    # Every other container's bind mounts on the engine, and on the other engines of the same
    # host (see :func:`listed_binds`): (source, read-write, name).
    other_binds: tuple[Bind, ...] = ()
    # Host folders a Compose watch syncs into containers (the server's): (folder, project).
    watched: tuple[tuple[str, str], ...] = ()
    # Engines of the same host whose containers could not be listed, each with the reason: a
    # writer there cannot be ruled out, so a bind is refused while one is listed here.
    unlisted: tuple[str, ...] = ()


def volume_binds(info: VolumeInfo, read_write: bool) -> list[tuple[str, bool]]:
    """The host folders a named volume mounts the way a bind does, each with whether the
    container can write it: a ``local`` volume's bind device (``type=none,o=bind``), or an
    overlay's layers (the upper and work folders take the writes, the lower ones are only
    read). The engine mounts them at every start, following links like a bind's source.
    ``read_write``: the container mounts the volume read-write."""
    if (info.driver or "local").strip() != "local":
        return []
    flags = {flag.strip().lower() for flag in info.options.get("o", "").split(",")}
    writes = read_write and "ro" not in flags
    return [
        (path, writes and purpose != "overlay lowerdir") for path, purpose in volume_host_paths(info.options)
    ]


def own_binds(
    host_config: Mapping[str, Any], volumes: Mapping[str, VolumeInfo] | None = None
) -> list[tuple[str, bool]]:
    """A container's bind mounts from its HostConfig: ``Binds`` and bind ``Mounts``, and the
    host folders its named volumes mount like binds (``volumes``: the named volumes as the
    engine reports them; a mount's inline driver config counts too, since it makes the volume
    when it does not exist yet): (source as written, read-write)."""
    known = volumes or {}
    found: list[tuple[str, bool]] = []
    binds = host_config.get("Binds") or []
    for bind in binds if isinstance(binds, list) else [binds]:
        source, _, options = parse_bind(str(bind))
        read_write = "ro" not in options
        if source.startswith("/"):
            found.append((source, read_write))
        elif source in known:
            found.extend(volume_binds(known[source], read_write))
    mounts = host_config.get("Mounts") or []
    for mount in mounts if isinstance(mounts, list) else []:
        if not isinstance(mount, Mapping):
            continue
        kind = str(mount.get("Type") or "").lower()
        read_write = not mount.get("ReadOnly")
        if kind == "bind":
            found.append((str(mount.get("Source") or ""), read_write))
        elif kind == "volume":
            for info in (_inline_volume(mount), known.get(str(mount.get("Source") or ""))):
                if info is not None:
                    found.extend(volume_binds(info, read_write))
    return found


def listed_binds(
    containers: Iterable[Mapping[str, Any]], volumes: Mapping[str, VolumeInfo], *, exclude: str = ""
) -> tuple[Bind, ...]:
    """The host folders containers mount, from the engine's container list (or inspect bodies,
    which carry the same ``Mounts``), but ``exclude``'s (the container being judged): bind
    mounts, and the folders of the named volumes that mount like binds (``volumes``, as the
    engine lists them). (source, read-write, container name)."""
    found: list[Bind] = []
    for row in containers:
        if exclude and row.get("Id") == exclude:
            continue
        name = str((row.get("Names") or [row.get("Name") or "?"])[0]).lstrip("/")
        for mount in row.get("Mounts") or []:
            read_write = bool(mount.get("RW"))
            kind, source, volume = mount.get("Type"), mount.get("Source"), str(mount.get("Name") or "")
            if kind == "bind" and source:
                found.append((str(source), read_write, name))
            elif kind == "volume" and volume in volumes:
                found.extend((path, rw, name) for path, rw in volume_binds(volumes[volume], read_write))
    return tuple(found)


def judge_container(policy: Policy, desc: ContainerDescription, resolve: PathResolver) -> None:
    """Admit a container the engine describes, or raise naming the field that breaks a rule.

    Raises:
        PolicyDenied: ``rule`` names the rule, the message names the container and the Engine
            API field, and ``setting`` the policy key that would allow it.
    """
    try:
        _judge(policy, desc, resolve)
    except PolicyDenied as exc:
        raise PolicyDenied(
            exc.rule, f"container {desc.name}: {exc.reason}", hint=exc.hint, setting=exc.setting
        ) from exc


def _judge(policy: Policy, desc: ContainerDescription, resolve: PathResolver) -> None:
    config = desc.config
    for key, value in config.items():
        if key not in HARMLESS_CONFIG and key != "Image" and _set(value):
            _unknown(policy, f"Config.{key}", value)
    image = str(config.get("Image") or "")
    if image and image not in desc.built_images:
        _check_image(policy, image)
        check_pinned(policy, image)
    _judge_host_config(policy, desc, resolve)
    _judge_nesting(policy, desc, resolve)
    for network in desc.networks:
        if str(network).lower() == "host":
            _namespace(policy, "network", "host")
    for name, info in desc.network_infos.items():
        if info.driver == "host":
            _namespace(policy, "network", "host")
        elif not _engine_made(name, info):
            judge_network(policy, name, info.driver, info.options)


def writable_folders(binds: Iterable[Bind], resolve: PathResolver) -> list[tuple[str, str]]:
    """The folders among ``binds`` that their containers can write, resolved: (folder, container),
    as :func:`~mcp_docker_server.policy.paths.check_not_container_writable` takes them."""
    return [(resolve(source).real_path, who) for source, rw, who in binds if rw and source]


def service_binds(
    services: Iterable[Mapping[str, Any]], volumes: Mapping[str, VolumeInfo]
) -> tuple[Bind, ...]:
    """The host folders swarm services mount, from the manager's service list: any task may
    run on this host (another node of the swarm may share it, too) and mount them at every
    start, so a service is a container for the nested-bind rule. (source, read-write,
    "service NAME")."""
    found: list[Bind] = []
    for service in services:
        spec: Mapping[str, Any] = service.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        name = f"service {spec.get('Name') or service.get('ID') or '?'}"
        found.extend(
            (source, rw, name) for source, rw in own_binds({"Mounts": container.get("Mounts")}, volumes)
        )
    return tuple(found)


def _judge_nesting(policy: Policy, desc: ContainerDescription, resolve: PathResolver) -> None:
    judge_nesting(
        policy,
        desc.name,
        own_binds(desc.host_config, desc.volumes),
        resolve,
        other_binds=desc.other_binds,
        watched=desc.watched,
        unlisted=desc.unlisted,
    )


def judge_nesting(
    policy: Policy,
    name: str,
    mine: Iterable[tuple[str, bool]],
    resolve: PathResolver,
    *,
    other_binds: Iterable[Bind] = (),
    watched: Iterable[tuple[str, str]] = (),
    unlisted: Iterable[str] = (),
    purpose: str = "HostConfig bind source",
) -> None:
    """The nested-bind rule for the host folders container (or service) ``name`` mounts
    (``mine``: (source, read-write), binds and volumes that mount like binds): none inside a
    folder a container can write (another's read-write mount, or one of its own), and no
    read-write one of its own around another's mount or a watched folder. A link planted there
    is followed when the engine mounts the source at the next start. ``unlisted`` engines of
    the same host could not be listed: while any is, a bind is refused (fail closed).

    Raises:
        PolicyDenied: rule ``nested-bind``, naming the path, the folder and the container that
            writes it, and ``allow_nested_binds``.
    """
    if policy.allow_nested_binds:
        return
    own = [(resolve(source).real_path, rw) for source, rw in mine if source]
    others = [(resolve(source).real_path, rw, who) for source, rw, who in other_binds if source]
    writable = [(s, n) for s, rw, n in others if rw] + [(s, "itself") for s, rw in own if rw]
    missing = tuple(unlisted)
    for source, _ in own:
        check_writers_listed(policy, source, missing, purpose=purpose)
        check_not_container_writable(policy, source, writable, purpose=purpose)
    for folder, rw in own:
        if not rw:
            continue
        for source, _, who in others:
            check_not_container_writable(
                policy, source, [(folder, name)], purpose=f"container {who}'s bind source"
            )
        for synced, project in watched:  # a link made in it is followed by the next sync
            check_not_container_writable(
                policy,
                synced,
                [(folder, name)],
                purpose=f"the folder project {project} watches",
                inside_only=False,
            )
            check_not_container_writable(
                policy, folder, [(synced, f"(the sync of project {project})")], purpose=purpose
            )


def _judge_host_config(policy: Policy, desc: ContainerDescription, resolve: PathResolver) -> None:
    host = desc.host_config
    for key, value in host.items():
        if key in HARMLESS_HOST_CONFIG or not _set(value):
            continue
        judge = _HOST_RULES.get(key)
        if judge is None:
            _unknown(policy, f"HostConfig.{key}", value)
            continue
        try:
            judge(policy, desc, value, resolve)
        except PolicyDenied as exc:
            if f"HostConfig.{key}" in exc.reason:
                raise
            raise PolicyDenied(
                exc.rule, f"HostConfig.{key}: {exc.reason}", hint=exc.hint, setting=exc.setting
            ) from exc
    if not host.get("Privileged"):
        # An explicit empty list is not a zero value here: the engine reports [] for
        # `--security-opt systempaths=unconfined`, which removes the default masks.
        for name in ("MaskedPaths", "ReadonlyPaths"):
            if host.get(name) == []:
                _HOST_RULES[name](policy, desc, [], resolve)


def _check_image(policy: Policy, image: str) -> None:
    """The image allowlist for a reference as the engine reports it.

    Swarm pins what it resolved (name:tag@sha256:...), and the allowlist names the tag; but an
    allowlist entry may itself name a digest (name@sha256:...), which only the full reference
    matches.
    """
    if "@" not in image or image.startswith("sha256:"):
        check_image(policy, image)
        return
    try:
        check_image(policy, image)
    except PolicyDenied:
        check_image(policy, image.split("@")[0])


def _engine_made(name: str, info: NetworkInfo) -> bool:
    """The swarm's gateway bridge, which the engine makes and names itself."""
    return name == "docker_gwbridge" and info.options.get("com.docker.network.bridge.name") == name


def _set(value: object) -> bool:
    """Whether a field carries a value (zero values are what an engine reports for "unset")."""
    return value not in (None, "", 0, False, [], {})


def _unknown(policy: Policy, name: str, value: object) -> None:
    if name in policy.allow_container_fields:
        return
    shown = json.dumps(value, default=str)[:80]
    raise PolicyDenied(
        "unknown-field",
        f"{name} is set ({shown}) and this server does not know what it gives the container",
        hint="leave that field out.",
        setting=f'allow_container_fields = ["{name}"]',
    )


def _opened(policy: Policy, name: str, reason: str, hint: str) -> None:
    """Refuse a field the operator can open by name."""
    if name not in policy.allow_container_fields:
        raise PolicyDenied(
            name.split(".")[-1].lower(), reason, hint=hint, setting=f'allow_container_fields = ["{name}"]'
        )


# --------------------------------------------------------------------------- the rules

Rule = Callable[[Policy, ContainerDescription, object, PathResolver], None]


def _privileged(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if not policy.allow_privileged:
        raise PolicyDenied(
            "privileged",
            "HostConfig.Privileged: privileged containers have full access to the host",
            hint="drop privileged; add the one capability the workload needs with cap_add.",
            setting="allow_privileged = true",
        )


def _namespace_mode(field_name: str) -> Rule:
    def rule(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
        _namespace(policy, _NAMESPACE_FIELDS[field_name], str(value))

    return rule


def _namespace(policy: Policy, namespace: str, mode: str) -> None:
    check_namespace(policy, namespace, mode)


def _cgroupns(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    # On cgroup v1 hosts the engine's own default is "host" (moby daemon_unix.go), so it says
    # nothing about the request there; on cgroup v2 the default is private.
    if str(value).lower() == "host" and desc.cgroup_version != "1":
        _namespace(policy, "cgroupns", "host")


def _links(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    # On the default bridge a legacy link copies the linked container's environment (its
    # secrets) into this one as <ALIAS>_ENV_<NAME>; on a user-defined network it is only a name.
    if str(desc.host_config.get("NetworkMode") or "default") in ("default", "bridge"):
        _opened(
            policy,
            "HostConfig.Links",
            f"legacy links ({', '.join(map(str, value if isinstance(value, list) else [value]))[:200]}) "
            "on the default bridge copy the linked containers' environment into this one",
            "put both containers on a user-defined network (network-management create) and use its name.",
        )


def _volumes_from(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if not policy.allow_host_namespaces:
        raise PolicyDenied(
            "volumes-from",
            "HostConfig.VolumesFrom copies another container's mounts, which this policy cannot inspect",
            hint="name the volumes to mount explicitly.",
            setting="allow_host_namespaces = true",
        )


def _devices(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if policy.allow_devices:
        return
    items = value if isinstance(value, list) else [value]
    shown = ", ".join(str(d.get("PathOnHost") or d) if isinstance(d, Mapping) else str(d) for d in items)
    raise PolicyDenied(
        "devices",
        f"mapping host devices or device rules ({shown[:200]}) is not allowed",
        hint="run without devices.",
        setting="allow_devices = true",
    )


def _device_requests(
    policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver
) -> None:
    # GPU requests (`--gpus`) are allowed as run-container's gpus parameter is; any other kind
    # of device request hands the container host devices.
    for request in value if isinstance(value, list) else [value]:
        caps = request.get("Capabilities") if isinstance(request, Mapping) else None
        driver = str(request.get("Driver") or "") if isinstance(request, Mapping) else ""
        flat = {str(c) for group in caps or [] for c in (group or [])}
        # The engine's "cdi" driver ignores Capabilities and injects
        # whatever DeviceIDs name (moby daemon/devices.go), so "gpu" vouches only for the
        # capability-matched drivers: the default selection and nvidia.
        if "gpu" not in flat or driver not in ("", "nvidia"):
            _devices(policy, desc, [request], resolve)


def _cap_add(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    check_capabilities(policy, value if isinstance(value, list) else [value])


def _security_opt(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    for option in value if isinstance(value, list) else [value]:
        key, setting = security_option(str(option))
        if key == "no-new-privileges" and setting.lower() in ("", "t", "true", "1"):
            continue  # Go's ParseBool spellings
        if key == "no-new-privileges" and setting.lower() in ("f", "false", "0"):
            if not policy.no_new_privileges:
                continue  # the engine's own default
            # The policy's default is no-new-privileges: the caller may not turn it off (setuid
            # binaries would raise privileges again inside the container).
            raise PolicyDenied(
                "no-new-privileges",
                f"security_opt {str(option)!r} turns off no-new-privileges, which this server's "
                "policy sets for every container",
                hint="drop that security_opt; set a user or capabilities instead of relying on setuid.",
                setting="no_new_privileges = false",
            )
        if key == "label" and setting.lower().startswith("level:"):
            continue  # an MCS level still confines the process
        if key == "apparmor" and setting == "docker-default":
            continue
        if key == "seccomp" and setting in ("builtin", "default"):
            continue
        if policy.allow_unconfined:
            continue
        # A custom profile's text is the operator's file, maybe anyone's: never echoed.
        shown = f"{key}=<a custom profile of {len(setting)} characters>" if len(setting) > 40 else str(option)
        raise PolicyDenied(
            "unconfined",
            f"security_opt {shown!r} replaces or disables a kernel confinement",
            hint="drop that security_opt (no-new-privileges and label=level: are accepted).",
            setting="allow_unconfined = true",
        )


def _system_paths(required: frozenset[str], name: str) -> Rule:
    def rule(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
        missing = sorted(required - {str(p) for p in (value if isinstance(value, list) else [])})
        if missing and not policy.allow_unconfined and not policy.allow_privileged:
            raise PolicyDenied(
                "unconfined",
                f"HostConfig.{name} leaves {', '.join(missing)} open to the container "
                "(systempaths=unconfined)",
                hint="drop systempaths=unconfined.",
                setting="allow_unconfined = true",
            )

    return rule


def _cgroup_parent(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    _opened(
        policy,
        "HostConfig.CgroupParent",
        f"HostConfig.CgroupParent {str(value)[:80]!r} puts the container in a host cgroup it chooses",
        "leave cgroup_parent out.",
    )


def _runtime(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if str(value) not in _RUNTIMES:
        _opened(
            policy,
            "HostConfig.Runtime",
            f"runtime {str(value)[:60]!r} is not the engine's runc, and what it does is not known here",
            "leave runtime out.",
        )


def _sysctls(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    names = sorted(str(k) for k in (value if isinstance(value, Mapping) else {}))
    unsafe = [n for n in names if n not in SAFE_SYSCTLS]
    if unsafe:
        _opened(
            policy,
            "HostConfig.Sysctls",
            f"sysctls {', '.join(unsafe)[:160]} are outside the safe, container-only set",
            f"use only {', '.join(sorted(SAFE_SYSCTLS))}.",
        )


def _log_config(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    driver = str(value.get("Type") or "") if isinstance(value, Mapping) else ""
    if driver not in _LOG_DRIVERS:
        _opened(
            policy,
            "HostConfig.LogConfig",
            f"log driver {driver!r} sends the container's output off this engine",
            f"use one of {', '.join(sorted(d for d in _LOG_DRIVERS if d))}.",
        )


def _storage_opt(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    keys = sorted(str(k) for k in (value if isinstance(value, Mapping) else {}) if str(k) != "size")
    if keys:
        _opened(
            policy,
            "HostConfig.StorageOpt",
            f"storage options {', '.join(keys)} are not known here",
            "use only size.",
        )


def _oom_score(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if isinstance(value, int) and value < 0:
        _opened(
            policy,
            "HostConfig.OomScoreAdj",
            f"oom_score_adj {value} makes the host's OOM killer pick host processes first",
            "use 0 or more.",
        )


def _annotations(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    _opened(
        policy,
        "HostConfig.Annotations",
        "OCI annotations are passed to the runtime, which may change how it isolates the container",
        "leave annotations out.",
    )


def _isolation(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if str(value).lower() not in ("default", ""):
        _opened(
            policy, "HostConfig.Isolation", f"isolation {str(value)!r} is not the default", "leave it out."
        )


def _volume_driver(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    if str(value) != "local":
        _judge_volume(policy, f"(volume_driver {value})", VolumeInfo(driver=str(value)), resolve)


def _binds(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    for bind in value if isinstance(value, list) else [value]:
        source, target, options = parse_bind(str(bind))
        propagation = _PROPAGATION_LEAKS & set(options)
        if propagation:
            _propagation(policy, next(iter(propagation)), target)
        if source.startswith("/"):
            check_bind_source(policy, source, resolve)
        elif source:
            _named_volume(policy, desc, source, None, resolve)


def parse_bind(bind: str) -> tuple[str, str, list[str]]:
    """``source:target[:options]`` as the engine splits it (``volume/mounts/linux_parser.go``):
    (source, target, options); a bare ``/target`` is an anonymous volume (source "")."""
    parts = bind.split(":")
    if len(parts) == 1:
        return "", parts[0], []
    options = parts[2].split(",") if len(parts) > 2 else []
    return parts[0], parts[1], [o for o in options if o]


def _propagation(policy: Policy, mode: str, target: str) -> None:
    if not policy.allow_sensitive_binds:
        raise PolicyDenied(
            "mount-propagation",
            f"{mode} propagation on {target} lets mounts leak to the host",
            hint="use the default (private) propagation.",
            setting="allow_sensitive_binds = true",
        )


def _mounts(policy: Policy, desc: ContainerDescription, value: object, resolve: PathResolver) -> None:
    for mount in value if isinstance(value, list) else [value]:
        if not isinstance(mount, Mapping):
            _unknown(policy, "HostConfig.Mounts", mount)
            continue
        kind = str(mount.get("Type") or "").lower()
        source = str(mount.get("Source") or "")
        target = str(mount.get("Target") or "")
        if kind == "bind":
            propagation = str((mount.get("BindOptions") or {}).get("Propagation") or "")
            if propagation in _PROPAGATION_LEAKS:
                _propagation(policy, propagation, target)
            check_bind_source(policy, source, resolve)
        elif kind == "volume":
            inline = _inline_volume(mount)
            if source or inline is not None:
                _named_volume(policy, desc, source or f"(anonymous at {target})", inline, resolve)
        elif kind == "image":
            check_image(policy, source)
            check_pinned(policy, source)  # its files run like the image's
        elif kind != "tmpfs":
            _opened(
                policy,
                "HostConfig.Mounts",
                f"a {kind or 'typeless'} mount at {target} is not a kind this server knows",
                "use bind, volume or tmpfs mounts.",
            )


def _inline_volume(mount: Mapping[str, Any]) -> VolumeInfo | None:
    """A volume mount's inline driver config (``VolumeOptions.DriverConfig``), if it has one."""
    options = mount.get("VolumeOptions") or {}
    driver = options.get("DriverConfig") if isinstance(options, Mapping) else None
    if isinstance(driver, Mapping) and (driver.get("Name") or driver.get("Options")):
        return VolumeInfo(
            driver=str(driver.get("Name") or "local"),
            options={str(k): str(v) for k, v in (driver.get("Options") or {}).items()},
        )
    return None


def _named_volume(
    policy: Policy, desc: ContainerDescription, name: str, inline: VolumeInfo | None, resolve: PathResolver
) -> None:
    """A named volume is judged by what it really is: its driver and options (an inline driver
    config creates the volume with those options when it does not exist yet)."""
    # An existing volume is used as it is, whatever the inline config says,
    # so the inline config must not stand in for it: judge both.
    for info in (inline, desc.volumes.get(name)):
        if info is not None:
            _judge_volume(policy, name, info, resolve)


def _judge_volume(policy: Policy, name: str, info: VolumeInfo, resolve: PathResolver) -> None:
    admit_volume(policy, VolumeSpec(name=name, driver=info.driver, driver_opts=dict(info.options)), resolve)


_HOST_RULES: Mapping[str, Rule] = {
    "Annotations": _annotations,
    "Binds": _binds,
    "CapAdd": _cap_add,
    "Cgroup": _namespace_mode("Cgroup"),
    "CgroupParent": _cgroup_parent,
    "CgroupnsMode": _cgroupns,
    "DeviceCgroupRules": _devices,
    "DeviceRequests": _device_requests,
    "Devices": _devices,
    "IpcMode": _namespace_mode("IpcMode"),
    "Isolation": _isolation,
    "Links": _links,
    "LogConfig": _log_config,
    "MaskedPaths": _system_paths(_MASKED, "MaskedPaths"),
    "Mounts": _mounts,
    "NetworkMode": _namespace_mode("NetworkMode"),
    "OomScoreAdj": _oom_score,
    "PidMode": _namespace_mode("PidMode"),
    "Privileged": _privileged,
    "ReadonlyPaths": _system_paths(_READ_ONLY, "ReadonlyPaths"),
    "Runtime": _runtime,
    "SecurityOpt": _security_opt,
    "StorageOpt": _storage_opt,
    "Sysctls": _sysctls,
    "UTSMode": _namespace_mode("UTSMode"),
    "UsernsMode": _namespace_mode("UsernsMode"),
    "VolumeDriver": _volume_driver,
    "VolumesFrom": _volumes_from,
}
assert set(_HOST_RULES) == JUDGED_HOST_CONFIG


# --------------------------------------------------------------------------- swarm services

# A service's ContainerSpec fields (moby api/types/swarm/container.go) with nothing of the host.
_HARMLESS_SERVICE = frozenset(
    {
        "Args", "Command", "Configs", "DNSConfig", "Dir", "Env", "Groups", "Healthcheck", "Hostname",
        "Hosts", "Init", "Labels", "OpenStdin", "ReadOnly", "Secrets", "StopGracePeriod", "StopSignal",
        "TTY", "Ulimits", "User", "CapabilityDrop",
    }
)  # fmt: skip
_HARMLESS_TASK = frozenset({"ForceUpdate", "Placement", "Resources", "RestartPolicy"})


def judge_task_template(
    policy: Policy,
    service: str,
    template: Mapping[str, Any],
    network_names: Iterable[str],
    volumes: Mapping[str, VolumeInfo],
    resolve: PathResolver,
    network_infos: Mapping[str, NetworkInfo] | None = None,
    *,
    other_binds: tuple[Bind, ...] = (),
    watched: tuple[tuple[str, str], ...] = (),
    unlisted: tuple[str, ...] = (),
) -> None:
    """Admit a swarm service's task template (``Spec.TaskTemplate``) as the engine stores it:
    its container is mapped onto the container fields and judged by :func:`judge_container`.

    ``network_names`` are the names of the networks its tasks attach to (the template holds ids).
    ``other_binds``, ``watched`` and ``unlisted`` are as in :class:`ContainerDescription`, for
    the nested-bind rule (its tasks mount their binds at every start, like a container).

    Raises:
        PolicyDenied: naming the service, the field and the policy key.
    """
    try:
        host: dict[str, Any] = {}
        for key, value in template.items():
            if key in _HARMLESS_TASK or key in ("ContainerSpec", "Networks") or not _set(value):
                continue
            if key == "LogDriver" and isinstance(value, Mapping):
                host["LogConfig"] = {"Type": value.get("Name") or ""}
            elif key == "Runtime" and str(value) == "container":
                continue
            else:
                _unknown(policy, f"TaskTemplate.{key}", value)
        spec = template.get("ContainerSpec") or {}
        config: dict[str, Any] = {"Image": spec.get("Image")}
        for key, value in spec.items():
            if key in _HARMLESS_SERVICE or key == "Image" or not _set(value):
                continue
            if key == "Mounts":
                host["Mounts"] = value
            elif key == "CapabilityAdd":
                host["CapAdd"] = value
            elif key in ("Sysctls", "OomScoreAdj", "Isolation"):
                host[key] = value
            elif key == "Privileges" and isinstance(value, Mapping):
                host["SecurityOpt"] = _privilege_options(policy, value)
            else:
                _unknown(policy, f"ContainerSpec.{key}", value)
        # The full reference goes to _judge, whose _check_image tries the
        # name:tag without the swarm's pin as well; stripping it here refused allowlist entries
        # that name a digest.
        desc = ContainerDescription(
            name=service,
            config={"Image": config["Image"]},
            host_config=host,
            networks={n: {} for n in network_names},
            volumes=volumes,
            network_infos=network_infos or {},
            other_binds=other_binds,
            watched=watched,
            unlisted=unlisted,
        )
        _judge(policy, desc, resolve)
    except PolicyDenied as exc:
        raise PolicyDenied(
            exc.rule, f"service {service}: {exc.reason}", hint=exc.hint, setting=exc.setting
        ) from exc


def _privilege_options(policy: Policy, privileges: Mapping[str, Any]) -> list[str]:
    """A service's Privileges as the security options a container would carry."""
    options: list[str] = []
    for key, value in privileges.items():
        if not _set(value) or key == "NoNewPrivileges":
            continue
        if key == "Seccomp" and isinstance(value, Mapping):
            mode = str(value.get("Mode") or "default")
            if mode != "default":
                options.append(f"seccomp={mode}")
        elif key == "AppArmor" and isinstance(value, Mapping):
            mode = str(value.get("Mode") or "default")
            if mode != "default":
                options.append("apparmor=unconfined" if mode == "disabled" else f"apparmor={mode}")
        elif key == "SELinuxContext" and isinstance(value, Mapping):
            if value.get("Disable"):
                options.append("label=disable")
            options.extend(f"label={p.lower()}:{value[p]}" for p in ("User", "Role", "Type") if value.get(p))
            if value.get("Level"):
                options.append(f"label=level:{value['Level']}")
        else:
            _unknown(policy, f"Privileges.{key}", value)
    return options
