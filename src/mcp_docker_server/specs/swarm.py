"""Swarm service requests in engine-neutral terms, parsed from tool arguments (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.specs.containers import ContainerSpec

__all__ = [
    "ServicePatch",
    "ServicePort",
    "ServiceSpec",
    "UpdatePolicy",
    "parse_constraints",
    "parse_service_ports",
    "parse_update_policy",
]

_PORT = re.compile(r"(?:(\d{1,5}):)?(\d{1,5})(?:/(tcp|udp|sctp))?")
_CONSTRAINT = re.compile(r"[A-Za-z0-9_.\-]+ *(==|!=) *[A-Za-z0-9_.\-:/*]+")


@dataclass(frozen=True)
class ServicePort:
    """A published service port: ``ingress`` reaches every node; ``host`` only the task's node."""

    target: int
    published: int | None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: Literal["ingress", "host"] = "ingress"


@dataclass(frozen=True)
class UpdatePolicy:
    """How a rolling update (or a rollback) proceeds."""

    parallelism: int = 1
    delay_seconds: float = 0
    failure_action: Literal["pause", "continue", "rollback"] = "pause"
    order: Literal["stop-first", "start-first"] = "stop-first"
    monitor_seconds: float | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """A service to create or update. ``container`` carries what each task runs, judged by the
    same rules as a plain container."""

    name: str
    container: ContainerSpec
    mode: Literal["replicated", "global"] = "replicated"
    replicas: int | None = None
    ports: tuple[ServicePort, ...] = ()
    networks: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    reserve_memory_bytes: int | None = None
    reserve_nano_cpus: int | None = None
    restart_condition: Literal["none", "on-failure", "any"] = "any"
    restart_max_attempts: int | None = None
    restart_delay_seconds: float | None = None
    update: UpdatePolicy | None = None
    rollback: UpdatePolicy | None = None


@dataclass(frozen=True)
class ServicePatch:
    """Changes to an existing service; what is None stays as it is. Mounts, networks and
    capabilities are not changeable here: a new service is judged whole by the policy."""

    image: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    replicas: int | None = None
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    update: UpdatePolicy | None = None
    force: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to change."""
        return self == ServicePatch()


def parse_service_ports(ports: Sequence[str | int] | None, mode: str = "ingress") -> tuple[ServicePort, ...]:
    """``["8080:80", "53:53/udp", 9000]``: published:target[/proto], or a target alone (the swarm
    picks the published port).

    Raises:
        InvalidArgument: a malformed entry or an out-of-range port.
    """
    parsed: list[ServicePort] = []
    for entry in ports or []:
        match = _PORT.fullmatch(str(entry).strip())
        if not match:
            raise InvalidArgument(
                f"port {str(entry)[:40]!r} is not [published:]target[/tcp|udp|sctp]",
                hint='e.g. ["8080:80", "53:53/udp"].',
            )
        published = int(match[1]) if match[1] else None
        target = int(match[2])
        if not 0 < target < 65536 or (published is not None and not 0 < published < 65536):
            raise InvalidArgument(f"port {entry!r} is out of range", hint="ports are 1-65535.")
        parsed.append(
            ServicePort(
                target=target,
                published=published,
                protocol=(match[3] or "tcp"),  # type: ignore[arg-type]
                mode="host" if mode == "host" else "ingress",
            )
        )
    return tuple(parsed)


def parse_constraints(constraints: Sequence[str] | None) -> tuple[str, ...]:
    """Placement constraints such as ``node.role==manager`` or ``node.labels.zone!=b``.

    Raises:
        InvalidArgument: one is not ``<attribute> ==|!= <value>``.
    """
    out: list[str] = []
    for constraint in constraints or []:
        if not _CONSTRAINT.fullmatch(constraint.strip()):
            raise InvalidArgument(
                f"constraint {constraint[:60]!r} is not '<attribute>==<value>' or '!='",
                hint="e.g. node.role==manager, node.hostname!=box-2, node.labels.zone==a.",
            )
        out.append(constraint.strip())
    return tuple(out)


def parse_update_policy(value: Mapping[str, object] | None) -> UpdatePolicy | None:
    """``{"parallelism": 1, "delay": 5, "failure_action": "rollback", "order": "start-first",
    "monitor": 10}`` (durations in seconds).

    Raises:
        InvalidArgument: an unknown key or a value out of range.
    """
    if value is None:
        return None
    known = {"parallelism", "delay", "failure_action", "order", "monitor"}
    if unknown := set(value) - known:
        raise InvalidArgument(
            f"unknown update setting(s) {sorted(unknown)}", hint=f"use {', '.join(sorted(known))}."
        )
    parallelism = value.get("parallelism", 1)
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or not 0 <= parallelism <= 1000:
        raise InvalidArgument("parallelism must be 0-1000 (0 = all at once)")
    failure = value.get("failure_action", "pause")
    if failure not in ("pause", "continue", "rollback"):
        raise InvalidArgument("failure_action must be pause, continue or rollback")
    order = value.get("order", "stop-first")
    if order not in ("stop-first", "start-first"):
        raise InvalidArgument("order must be stop-first or start-first")
    return UpdatePolicy(
        parallelism=parallelism,
        delay_seconds=_seconds(value.get("delay", 0), "delay"),
        failure_action=failure,
        order=order,
        monitor_seconds=_seconds(value["monitor"], "monitor") if "monitor" in value else None,
    )


def _seconds(value: object, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 86400:
        raise InvalidArgument(f"{name} must be seconds between 0 and 86400")
    return float(value)
