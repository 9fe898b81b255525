"""Containers as a tool asks for them: ports, mounts, limits, healthchecks, exec (pure).

Parsed from tool arguments into plain values; the policy judges these values and the engine
layer turns approved ones into Engine API calls, so both see exactly the same request.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mcp_docker_server.errors import InvalidArgument

__all__ = [
    "ContainerSpec",
    "ExecSpec",
    "GpuRequest",
    "Healthcheck",
    "MountSpec",
    "PortBinding",
    "RestartPolicy",
    "parse_command",
    "parse_gpus",
    "parse_healthcheck",
    "parse_memory",
    "parse_ports",
    "parse_restart_policy",
    "parse_volumes",
    "validate_name",
]


_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")


_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)


_PROPAGATION = frozenset({"shared", "rshared", "slave", "rslave", "private", "rprivate"})


_MOUNT_FLAGS = frozenset({"ro", "rw", "z", "Z", "nocopy", *_PROPAGATION})


Protocol = Literal["tcp", "udp", "sctp"]


@dataclass(frozen=True)
class PortBinding:
    """One published port: container port/protocol to host address:port (None = any free port,
    ``"8000-8010"`` = a free one in that range, as ``docker run -p 8000-8010:80`` asks)."""

    container_port: int
    protocol: Protocol
    host_ip: str
    host_port: int | str | None


@dataclass(frozen=True)
class MountSpec:
    """A bind mount of a host path, a named volume, or a tmpfs."""

    kind: Literal["bind", "volume", "tmpfs"]
    source: str
    target: str
    read_only: bool = False
    propagation: str | None = None
    selinux_label: str | None = None


@dataclass(frozen=True)
class RestartPolicy:
    """Docker restart policy; ``max_retries`` only applies to ``on-failure``."""

    name: Literal["no", "always", "unless-stopped", "on-failure"]
    max_retries: int = 0


@dataclass(frozen=True)
class Healthcheck:
    """Container healthcheck; durations in seconds."""

    test: tuple[str, ...]
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None


@dataclass(frozen=True)
class GpuRequest:
    """GPU devices to request: a count (-1 = all) or explicit device ids."""

    count: int | None = None
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create a container, in engine-neutral terms."""

    image: str
    name: str | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    network: str | None = None
    restart_policy: RestartPolicy | None = None
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    pids_limit: int | None = None
    healthcheck: Healthcheck | None = None
    gpus: GpuRequest | None = None
    auto_remove: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    pid_mode: str | None = None
    ipc_mode: str | None = None
    uts_mode: str | None = None
    userns_mode: str | None = None
    security_opt: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    volumes_from: tuple[str, ...] = ()
    tty: bool = False


@dataclass(frozen=True)
class ExecSpec:
    """A process to run inside an existing container."""

    container: str
    command: tuple[str, ...]
    workdir: str | None = None
    user: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    privileged: bool = False


def validate_name(name: str, kind: str = "container") -> str:
    """Return ``name`` if the engine would accept it as a resource name."""
    if not _CONTAINER_NAME.fullmatch(name):
        raise InvalidArgument(
            f"Invalid {kind} name {name!r}.",
            hint="use letters, digits, '_', '.', '-', starting with a letter or digit.",
        )
    return name


def parse_command(command: str | Sequence[str] | None, what: str = "command") -> tuple[str, ...] | None:
    """Split a command like a POSIX shell would, without ever running one.

    An argv list is taken as it is. Quotes group words; ``$VAR``, ``;``, pipes and globs stay
    literal characters in the arguments.
    """
    if command is None:
        return None
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise InvalidArgument(
                f"Cannot split {what} {command!r}: {exc}.",
                hint="balance the quotes, or pass the command as a list of arguments.",
            ) from exc
    else:
        argv = list(command)
    if not argv:
        raise InvalidArgument(f"The {what} is empty.", hint=f"give a program to run, or omit {what}.")
    if any("\x00" in arg for arg in argv):
        raise InvalidArgument(f"The {what} contains a NUL character.", hint="remove it.")
    return tuple(argv)


def parse_ports(ports: Mapping[str, object] | None, default_host_ip: str) -> tuple[PortBinding, ...]:
    """Read the port shapes ``docker run -p`` accepts.

    Keys are container ports or ranges (``"80"``, ``"80/tcp"``, ``"53/udp"``, ``"8000-8010/tcp"``);
    a value is a host port or range (``8080``, ``"8080"``, ``"8000-8010"``), an address and port
    (``"127.0.0.1:8080"``, ``"[::1]:8080"``), an address with any free port (``"127.0.0.1:"``),
    ``null`` for any free port, or a list of these. A container range maps to a host range of
    the same length port by port; one container port with a host range gets a free port from it.

    Raises:
        InvalidArgument: naming the key or value and the accepted shapes.
    """
    bindings: list[PortBinding] = []
    for key, value in (ports or {}).items():
        first, last, protocol = _container_ports(str(key))
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InvalidArgument(f"Port {key!r} maps to an empty list.", hint="give a host port or null.")
        for item in values:
            host_ip, host = _host_side(item, default_host_ip, key)
            bindings.extend(_expand(key, item, first, last, protocol, host_ip, host))
    if len(bindings) > _MAX_BINDINGS:
        raise InvalidArgument(
            f"{len(bindings)} published ports is more than {_MAX_BINDINGS}.",
            hint="publish fewer or smaller ranges.",
        )
    return tuple(bindings)


_MAX_BINDINGS = 1024


_PORT_KEY_HINT = 'use "80", "80/tcp", "53/udp" or a range such as "8000-8010/tcp" as the key.'


_HOST_HINT = (
    'use 8080, "8080", a range "8000-8010", "127.0.0.1:8080", "[::1]:8080", '
    '"127.0.0.1:" (any free port) or null.'
)


def _port_range(text: str) -> tuple[int, int] | None:
    """``"80"`` or ``"8000-8010"`` as (first, last); None when it is not one."""
    low, dash, high = text.partition("-")
    high = high if dash else low
    if not (low.isdigit() and high.isdigit()):
        return None
    first, last = int(low), int(high)
    if not 0 < first <= last < 65536:
        return None
    return first, last


def _container_ports(key: str) -> tuple[int, int, Protocol]:
    number, _, proto = key.strip().partition("/")
    proto = proto.lower() or "tcp"
    ports = _port_range(number)
    if proto not in ("tcp", "udp", "sctp") or ports is None:
        raise InvalidArgument(
            f"Invalid container port {key!r}: ports are 1-65535 (or a range low-high), "
            "protocols tcp, udp or sctp.",
            hint=_PORT_KEY_HINT,
        )
    return ports[0], ports[1], proto  # type: ignore[return-value]


def _host_side(value: object, default_ip: str, key: str) -> tuple[str, tuple[int, int] | None]:
    if value is None:
        return default_ip, None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgument(f"Invalid host side {value!r} for port {key!r}.", hint=_HOST_HINT)
    text = str(value).strip()
    ip = default_ip
    if text.startswith("["):
        ip, bracket, text = text[1:].partition("]")
        if not bracket or (text and not text.startswith(":")):
            raise InvalidArgument(f"Invalid host side {value!r} for port {key!r}.", hint=_HOST_HINT)
        text = text.removeprefix(":")
        _check_address(ip, value, key, version=6)
    elif text.count(":") == 1:
        ip, _, text = text.partition(":")
        _check_address(ip, value, key, version=4)
    elif ":" in text:
        raise InvalidArgument(
            f"Invalid host side {value!r} for port {key!r}: an IPv6 address goes in brackets.",
            hint='e.g. "[::1]:8080" or "[::]:8080".',
        )
    if not text:
        return ip, None
    ports = _port_range(text)
    if ports is None:
        raise InvalidArgument(
            f"Invalid host port {value!r} for port {key!r}: host ports are 1-65535, or a range low-high.",
            hint=_HOST_HINT,
        )
    return ip, ports


def _check_address(ip: str, value: object, key: str, *, version: int) -> None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None
    if address is None or address.version != version:
        kind = "an IPv6 address" if version == 6 else "an IPv4 address (IPv6 goes in brackets)"
        raise InvalidArgument(
            f"Invalid host address {ip!r} in {value!r} for port {key!r}: expected {kind}.", hint=_HOST_HINT
        )


def _expand(
    key: str,
    value: object,
    first: int,
    last: int,
    protocol: Protocol,
    host_ip: str,
    host: tuple[int, int] | None,
) -> list[PortBinding]:
    """The bindings of one key and host side, paired as the docker CLI pairs them."""
    count = last - first + 1
    if host is None:
        return [PortBinding(port, protocol, host_ip, None) for port in range(first, last + 1)]
    low, high = host
    if count == 1:
        return [PortBinding(first, protocol, host_ip, low if low == high else f"{low}-{high}")]
    if high - low + 1 != count:
        raise InvalidArgument(
            f"Port {key!r} is a range of {count} ports but the host side {value!r} is not a range of "
            f"{count}: a container range maps to a host range of the same length.",
            hint=f'e.g. {{"{first}-{last}/{protocol}": "{first}-{last}"}}, or null for free ports.',
        )
    return [PortBinding(first + i, protocol, host_ip, low + i) for i in range(count)]


def parse_volumes(volumes: Sequence[Mapping[str, object] | str] | None) -> tuple[MountSpec, ...]:
    """Read volume specifications.

    Objects use the specification's ``{host_path, container_path, mode}``; a ``host_path`` that
    is not an absolute path is a named volume (as with ``docker run -v name:/path``), and
    ``{"volume": name, ...}`` or ``{"type": "tmpfs", ...}`` say so explicitly. Strings use the
    CLI's ``source:target[:mode]``.
    """
    mounts = []
    for item in volumes or ():
        if isinstance(item, str):
            source, target, mode = _split_volume_string(item)
            kind: str | None = None
        else:
            kind = _opt_str(item.get("type"))
            source = _opt_str(item.get("host_path") or item.get("volume") or item.get("source")) or ""
            target = _opt_str(item.get("container_path") or item.get("target")) or ""
            mode = _opt_str(item.get("mode")) or "rw"
        mounts.append(_mount(kind, source, target, mode))
    return tuple(mounts)


def _split_volume_string(text: str) -> tuple[str, str, str]:
    parts = text.split(":")
    if len(parts) == 2:
        return parts[0], parts[1], "rw"
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise InvalidArgument(
        f"Invalid volume {text!r}.", hint='use "/host/path:/container/path[:ro]" or "name:/path".'
    )


def _mount(kind: str | None, source: str, target: str, mode: str) -> MountSpec:
    if not target.startswith("/"):
        raise InvalidArgument(
            f"container_path {target!r} must be an absolute path.", hint="e.g. /workspace/data."
        )
    flags = [f.strip() for f in mode.split(",") if f.strip()]
    unknown = [f for f in flags if f not in _MOUNT_FLAGS]
    if unknown:
        raise InvalidArgument(
            f"Unknown volume mode {', '.join(unknown)!r} for {target}.", hint="use ro or rw."
        )
    read_only = "ro" in flags
    propagation = next((f for f in flags if f in _PROPAGATION), None)
    label = next((f for f in flags if f in ("z", "Z")), None)
    if kind == "tmpfs":
        if source:
            raise InvalidArgument(
                f"A tmpfs at {target} is memory: it takes no host_path or volume ({source!r}).",
                hint='drop host_path, e.g. {"type": "tmpfs", "container_path": "/tmp"}.',
            )
        return MountSpec("tmpfs", "", posixpath.normpath(target), read_only)
    if kind not in (None, "bind", "volume"):
        raise InvalidArgument(f"Unknown volume type {kind!r}.", hint="use bind, volume or tmpfs.")
    if kind == "bind" or source.startswith(("/", ".", "~")):
        if not source.startswith("/"):
            raise InvalidArgument(
                f"host_path {source!r} must be an absolute path.",
                hint="relative paths depend on where the server runs; give the full path.",
            )
        return MountSpec("bind", source, posixpath.normpath(target), read_only, propagation, label)
    if not source or not _VOLUME_NAME.fullmatch(source):
        raise InvalidArgument(
            f"Invalid volume source {source!r} for {target}.",
            hint="give an absolute host_path for a bind mount, or a volume name.",
        )
    return MountSpec("volume", source, posixpath.normpath(target), read_only, propagation, label)


def parse_memory(value: int | str | None, what: str = "memory") -> int | None:
    """Bytes from ``536870912``, ``"512m"``, ``"2g"``, ``"1.5GiB"``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        match = _SIZE.fullmatch(str(value).strip())
        if not match:
            raise InvalidArgument(f"Invalid {what} {value!r}.", hint='use bytes or e.g. "512m", "2g".')
        number, unit = float(match[1]), match[2].lower()
    size = int(number * 1024 ** " kmgt".index(unit or " "))
    if size < 6 * 1024 * 1024:
        raise InvalidArgument(f"{what} {value!r} is below the engine's 6 MiB minimum.", hint='e.g. "64m".')
    return size


def parse_restart_policy(value: str | None) -> RestartPolicy | None:
    """``no``, ``always``, ``unless-stopped``, ``on-failure`` or ``on-failure:N``."""
    if value is None:
        return None
    name, _, retries = value.strip().partition(":")
    if name in ("no", "always", "unless-stopped") and not retries:
        return RestartPolicy(name)  # type: ignore[arg-type]
    if name == "on-failure" and (not retries or retries.isdigit()):
        return RestartPolicy("on-failure", int(retries or 0))
    raise InvalidArgument(
        f"Invalid restart policy {value!r}.",
        hint="use no, always, unless-stopped, on-failure or on-failure:5.",
    )


def parse_healthcheck(value: Mapping[str, object] | None) -> Healthcheck | None:
    """A healthcheck object: ``test`` (shell string or argv), ``interval``, ``timeout``,
    ``retries``, ``start_period`` (seconds)."""
    if value is None:
        return None
    test = value.get("test")
    if isinstance(test, str) and test.strip():
        argv: tuple[str, ...] = ("NONE",) if test.strip().upper() == "NONE" else ("CMD-SHELL", test)
    elif isinstance(test, list) and test and all(isinstance(t, str) for t in test):
        argv = tuple(test) if test[0] in ("CMD", "CMD-SHELL", "NONE") else ("CMD", *test)
    else:
        raise InvalidArgument(
            "healthcheck.test is missing.",
            hint='e.g. {"test": "wget -qO- localhost:80 || exit 1", "interval": 5}.',
        )
    return Healthcheck(
        test=argv,
        interval=_seconds(value, "interval"),
        timeout=_seconds(value, "timeout"),
        retries=_count(value, "retries"),
        start_period=_seconds(value, "start_period"),
    )


def parse_gpus(value: str | int | Sequence[str] | None) -> GpuRequest | None:
    """``"all"``, a count, or a list of device ids (like ``docker run --gpus``)."""
    if value is None:
        return None
    if value == "all":
        return GpuRequest(count=-1)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return GpuRequest(count=value)
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return GpuRequest(count=int(value))
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return GpuRequest(device_ids=tuple(value))
    raise InvalidArgument(f"Invalid gpus {value!r}.", hint='use "all", a count such as 2, or ["0", "1"].')


def _seconds(value: Mapping[str, object], key: str) -> float | None:
    raw = value.get(key)
    if raw is None:
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    raise InvalidArgument(f"healthcheck.{key} must be a number of seconds.", hint="e.g. 5.")


def _count(value: Mapping[str, object], key: str) -> int | None:
    raw = value.get(key)
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    raise InvalidArgument(f"healthcheck.{key} must be a whole number.", hint="e.g. 3.")


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"Expected a string, got {value!r}.", hint="check the volume entry.")
    return value
