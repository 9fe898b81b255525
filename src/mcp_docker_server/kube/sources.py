"""Containers and swarm services in the form Compose renders a project, so one mapping
(:func:`mcp_docker_server.kube.translate.translate`) serves all three sources.

A container comes as the Engine API describes it (``Config``, ``HostConfig``); a service as
its stored task template plus its mode, replica count and published ports. Engine fields this
module does not map are carried over under their own name (``HostConfig.CpuShares``), so the
translation lists them as not translated instead of dropping them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["container_project", "service_project"]

Raw = Mapping[str, Any]

# HostConfig fields mapped below, or whose values are the engine's defaults and say nothing
# about the workload (the data the engine fills in for every container).
_HOST_MAPPED = frozenset(
    {
        "Binds", "Mounts", "Tmpfs", "RestartPolicy", "NanoCpus", "Memory", "MemoryReservation",
        "PidsLimit", "CapAdd", "CapDrop", "Privileged", "ReadonlyRootfs", "SecurityOpt",
        "NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "Devices", "DeviceRequests",
        "ExtraHosts", "Dns", "DnsSearch", "DnsOptions", "GroupAdd", "Sysctls", "Init", "Ulimits",
        "Links", "LogConfig", "PortBindings", "VolumesFrom", "MemorySwap",
        "AutoRemove", "ConsoleSize", "ContainerIDFile", "MaskedPaths", "ReadonlyPaths", "Runtime",
        "CgroupnsMode", "ShmSize", "Isolation", "PublishAllPorts", "OomScoreAdj", "Cgroup",
        "Annotations",
    }
)  # fmt: skip
_DEFAULT_SHM = 64 * 1024 * 1024
_ENGINE_LABELS = re.compile(r"^(com\.docker\.|org\.opencontainers\.image\.)")
_NS_PER_S = 1_000_000_000


def container_project(name: str, config: Raw, host: Raw) -> dict[str, Any]:
    """A one-service project (``services.<name>``) from an inspected container."""
    service: dict[str, Any] = {
        "image": config.get("Image"),
        "entrypoint": config.get("Entrypoint"),
        "command": config.get("Cmd"),
        "environment": _env(config.get("Env")),
        "working_dir": config.get("WorkingDir"),
        "user": config.get("User"),
        "labels": _labels(config.get("Labels")),
        "healthcheck": _healthcheck(config.get("Healthcheck")),
        "tty": config.get("Tty"),
        "stdin_open": config.get("OpenStdin"),
        "stop_signal": config.get("StopSignal")
        if config.get("StopSignal") not in (None, "SIGTERM")
        else None,
        "stop_grace_period": config.get("StopTimeout"),
        "ports": _published(host.get("PortBindings") or {}),
        "expose": sorted(set(config.get("ExposedPorts") or {}) - set(host.get("PortBindings") or {})),
        "volumes": _container_volumes(config, host),
        "tmpfs": sorted(host.get("Tmpfs") or {}),
        "restart": (host.get("RestartPolicy") or {}).get("Name"),
        "cpus": (host.get("NanoCpus") or 0) / _NS_PER_S,
        "mem_limit": host.get("Memory"),
        "mem_reservation": host.get("MemoryReservation"),
        "pids_limit": host.get("PidsLimit") if (host.get("PidsLimit") or 0) > 0 else None,
        "cap_add": host.get("CapAdd"),
        "cap_drop": host.get("CapDrop"),
        "privileged": host.get("Privileged"),
        "read_only": host.get("ReadonlyRootfs"),
        "security_opt": host.get("SecurityOpt"),
        "devices": host.get("Devices"),
        "extra_hosts": host.get("ExtraHosts"),
        "dns": host.get("Dns"),
        "dns_search": host.get("DnsSearch"),
        "dns_opt": host.get("DnsOptions"),
        "group_add": host.get("GroupAdd"),
        "sysctls": host.get("Sysctls"),
        "init": host.get("Init"),
        "ulimits": host.get("Ulimits"),
        "links": host.get("Links"),
        "volumes_from": host.get("VolumesFrom"),
        **_namespaces(host),
        **_network(str(host.get("NetworkMode") or "")),
    }
    if host.get("DeviceRequests"):
        service["deploy"] = {"resources": {"reservations": {"devices": host["DeviceRequests"]}}}
    log_type = str((host.get("LogConfig") or {}).get("Type") or "")
    if log_type not in ("", "json-file", "local"):
        service["logging"] = log_type
    if (host.get("ShmSize") or _DEFAULT_SHM) != _DEFAULT_SHM:
        service["shm_size"] = host["ShmSize"]
    for key, value in host.items():
        if key not in _HOST_MAPPED:
            service[f"HostConfig.{key}"] = value
    return {"name": "", "services": {name: service}}


def service_project(
    name: str,
    template: Raw,
    networks: Sequence[str],
    *,
    mode: str,
    replicas: int,
    ports: Sequence[str],
) -> dict[str, Any]:
    """A one-service project from a swarm service's task template, its networks' names, its
    mode (``replicated``/``global``), desired replicas and published ports
    (``published->target/proto``, `` (host)`` for host-mode ports)."""
    spec: Raw = template.get("ContainerSpec") or {}
    resources: Raw = template.get("Resources") or {}
    limits, reservations = resources.get("Limits") or {}, resources.get("Reservations") or {}
    privileges: Raw = spec.get("Privileges") or {}
    service: dict[str, Any] = {
        "image": str(spec.get("Image") or ""),
        "entrypoint": spec.get("Command"),
        "command": spec.get("Args"),
        "environment": _env(spec.get("Env")),
        "working_dir": spec.get("Dir"),
        "user": spec.get("User"),
        "group_add": spec.get("Groups"),
        "labels": _labels(spec.get("Labels")),
        "healthcheck": _healthcheck(spec.get("Healthcheck")),
        "tty": spec.get("TTY"),
        "stdin_open": spec.get("OpenStdin"),
        "hostname": spec.get("Hostname"),
        "read_only": spec.get("ReadOnly"),
        "cap_add": spec.get("CapabilityAdd"),
        "cap_drop": spec.get("CapabilityDrop"),
        "security_opt": _swarm_security(privileges),
        "stop_signal": spec.get("StopSignal"),
        "stop_grace_period": (spec.get("StopGracePeriod") or 0) / _NS_PER_S or None,
        "init": spec.get("Init"),
        "sysctls": spec.get("Sysctls"),
        "ulimits": spec.get("Ulimits"),
        "extra_hosts": [_swarm_host(h) for h in spec.get("Hosts") or []],
        "volumes": [_mount(m) for m in spec.get("Mounts") or []],
        "secrets": _files(spec.get("Secrets"), "SecretName"),
        "configs": _files(spec.get("Configs"), "ConfigName"),
        "ports": [p for p in (_swarm_port(row) for row in ports) if p],
        "networks": {n: None for n in networks if n != "ingress"},
        "deploy": {
            "mode": mode,
            "replicas": replicas,
            "resources": {
                "limits": {
                    "cpus": (limits.get("NanoCPUs") or 0) / _NS_PER_S,
                    "memory": limits.get("MemoryBytes"),
                    "pids": limits.get("Pids"),
                },
                "reservations": {
                    "cpus": (reservations.get("NanoCPUs") or 0) / _NS_PER_S,
                    "memory": reservations.get("MemoryBytes"),
                    "generic_resources": reservations.get("GenericResources"),
                },
            },
            "restart_policy": {"condition": (template.get("RestartPolicy") or {}).get("Condition")},
            "placement": {"constraints": (template.get("Placement") or {}).get("Constraints")},
        },
    }
    if spec.get("DNSConfig"):
        service["dns"] = spec["DNSConfig"]
    tops = {
        kind: {str(item["source"]): {"name": str(item["source"]), "external": True} for item in service[kind]}
        for kind in ("secrets", "configs")
    }
    return {"name": "", "services": {name: service}, **tops}


def _env(pairs: object) -> dict[str, str]:
    if not isinstance(pairs, list):
        return {}
    return {key: value for key, _, value in (str(p).partition("=") for p in pairs)}


def _labels(labels: object) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items() if not _ENGINE_LABELS.match(str(k))}


def _healthcheck(check: object) -> dict[str, Any] | None:
    """An Engine API healthcheck (durations in nanoseconds) in Compose's form."""
    if not isinstance(check, Mapping) or not check.get("Test"):
        return None

    def seconds(key: str) -> str | None:
        value = check.get(key) or 0
        return f"{value / _NS_PER_S:g}s" if value else None

    return {
        "test": list(check["Test"]),
        "interval": seconds("Interval"),
        "timeout": seconds("Timeout"),
        "retries": check.get("Retries") or None,
        "start_period": seconds("StartPeriod"),
        "start_interval": seconds("StartInterval"),
    }


def _published(bindings: Raw) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    for key, hosts in sorted(bindings.items()):
        number, _, protocol = str(key).partition("/")
        ports.extend(
            {
                "target": int(number),
                "published": str((host or {}).get("HostPort") or ""),
                "host_ip": str((host or {}).get("HostIp") or ""),
                "protocol": protocol or "tcp",
            }
            for host in hosts or [{}]
        )
    return ports


def _container_volumes(config: Raw, host: Raw) -> list[dict[str, Any]]:
    volumes = [_bind(b) for b in host.get("Binds") or []]
    volumes += [_mount(m) for m in host.get("Mounts") or []]
    # Image-declared volumes nothing else mounts: anonymous volumes, one per container.
    taken = {v["target"] for v in volumes} | set(host.get("Tmpfs") or {})
    volumes += [
        {"type": "volume", "target": t} for t in sorted(config.get("Volumes") or {}) if t not in taken
    ]
    return volumes


def _bind(spec: str) -> dict[str, Any]:
    parts = str(spec).split(":")
    source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
    options = parts[2].split(",") if len(parts) > 2 else []
    return {
        "type": "bind" if source.startswith("/") else "volume",
        "source": source,
        "target": target,
        "read_only": "ro" in options,
    }


def _mount(mount: Raw) -> dict[str, Any]:
    kind = str(mount.get("Type") or "volume").lower()
    out: dict[str, Any] = {
        "type": kind,
        "source": mount.get("Source") or None,
        "target": str(mount.get("Target") or ""),
        "read_only": bool(mount.get("ReadOnly")),
    }
    if kind == "tmpfs" and (mount.get("TmpfsOptions") or {}).get("SizeBytes"):
        out["tmpfs"] = {"size": mount["TmpfsOptions"]["SizeBytes"]}
    return out


def _namespaces(host: Raw) -> dict[str, str]:
    """Shared namespaces (``host``, ``container:<id>``); the engine's private defaults are none."""
    modes = {"pid": "PidMode", "ipc": "IpcMode", "uts": "UTSMode", "userns_mode": "UsernsMode"}
    out: dict[str, str] = {}
    for key, field in modes.items():
        value = str(host.get(field) or "")
        if value and value not in ("private", "shareable", "none"):
            out[key] = value
    return out


def _network(mode: str) -> dict[str, Any]:
    if mode in ("", "bridge", "default"):
        return {}
    if mode in ("host", "none") or mode.startswith("container:"):
        return {"network_mode": mode}
    return {"networks": {mode: None}}


def _swarm_security(privileges: Raw) -> list[str]:
    options = []
    if privileges.get("NoNewPrivileges"):
        options.append("no-new-privileges:true")
    seccomp = str((privileges.get("Seccomp") or {}).get("Mode") or "")
    if seccomp in ("unconfined", "custom"):
        options.append(f"seccomp={seccomp}")
    apparmor = str((privileges.get("AppArmor") or {}).get("Mode") or "")
    if apparmor == "disabled":
        options.append("apparmor=unconfined")
    return options


def _swarm_host(entry: str) -> str:
    """Swarm keeps extra hosts as ``IP host...`` (the hosts-file order)."""
    ip, _, names = str(entry).partition(" ")
    return f"{names.split()[0] if names.split() else ip}:{ip}"


def _files(items: object, key: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [
        {
            "source": str(item.get(key) or ""),
            "target": str((item.get("File") or {}).get("Name") or "") or None,
        }
        for item in items
    ]


def _swarm_port(row: str) -> dict[str, Any] | None:
    match = re.match(r"^(\d*)->(\d+)/(\w+)", row)
    if not match:
        return None
    published, target, protocol = match.groups()
    return {"target": int(target), "published": published, "protocol": protocol}
