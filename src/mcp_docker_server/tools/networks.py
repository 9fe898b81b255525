"""network-management."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.policy import scope_labels
from mcp_docker_server.policy.networks import admit_network
from mcp_docker_server.results.networks import NetworkResult
from mcp_docker_server.specs.containers import validate_name
from mcp_docker_server.specs.networks import NetworkSpec
from mcp_docker_server.tools._confirm import Confirm, confirm_network, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]

OptionValue = str | bool | dict[str, str]
_NETWORK_KEYS = {
    "subnet",
    "gateway",
    "ip_range",
    "internal",
    "attachable",
    "ipv6",
    "labels",
    "driver_opts",
    "force",
}


async def network_management(
    guard: Guard,
    name: Annotated[
        str, Field(min_length=1, max_length=128, description="Network name; list/prune: glob, '*' = all.")
    ],
    action: Literal["create", "remove", "connect", "disconnect", "list", "inspect", "prune"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_network)],
    driver: Literal["bridge", "overlay", "host", "macvlan", "ipvlan"] = "bridge",
    options: Annotated[
        dict[str, OptionValue] | None,
        Field(
            description="subnet, gateway, ip_range, internal, attachable, ipv6, labels{}; "
            "disconnect: force; other keys are driver options."
        ),
    ] = None,
    containers: Annotated[
        list[str] | None, Field(description="connect/disconnect: container names or ids.")
    ] = None,
) -> NetworkResult:
    """Create, remove, connect, disconnect, list, inspect or prune networks."""
    ensure_confirmed(confirmation)
    opts = dict(options or {})
    if action == "list":
        return await guard.state.networks.listing(name)
    if action == "inspect":
        return await guard.state.networks.inspect(name)
    if action == "prune":
        return await guard.state.networks.prune(name)
    if action == "remove":
        return await guard.state.networks.remove(name)
    if action in ("connect", "disconnect"):
        if not containers:
            raise InvalidArgument(f"{action} needs containers.", hint='e.g. containers=["web", "db"].')
        return await guard.state.networks.connect(
            name, containers, connect=action == "connect", force=_flag(opts, "force")
        )
    spec = _network_spec(name, driver, opts)
    # The operator's scope label goes on every network the server creates.
    spec = replace(spec, labels=scope_labels(guard.state.policy, spec.labels))
    # Judged before anything is created: macvlan/ipvlan and bridge.name reach host interfaces.
    return await guard.state.networks.create(admit_network(guard.state.policy, spec))


def register(guard: Guard) -> None:
    """Add network-management to the guard's tool list."""
    _add_network_tool(guard)


def _add_network_tool(guard: Guard) -> None:

    guard.add(network_management, CATALOG[ToolName.NETWORK_MANAGEMENT])


def _network_spec(name: str, driver: str, opts: Mapping[str, OptionValue]) -> NetworkSpec:
    if driver == "host":
        raise InvalidArgument(
            "The host network already exists and only one can; it cannot be created.",
            hint="use network=host on run-container (if the policy allows it), or the bridge driver.",
        )
    labels = opts.get("labels") or {}
    driver_opts = opts.get("driver_opts") or {}
    if not isinstance(labels, dict) or not isinstance(driver_opts, dict):
        raise InvalidArgument("options.labels and options.driver_opts must be objects of strings.")
    extra = {k: str(v) for k, v in opts.items() if k not in _NETWORK_KEYS}
    return NetworkSpec(
        name=validate_name(name, "network"),
        driver=driver,
        subnet=_text(opts, "subnet"),
        gateway=_text(opts, "gateway"),
        ip_range=_text(opts, "ip_range"),
        internal=_flag(opts, "internal"),
        attachable=_flag(opts, "attachable"),
        ipv6=_flag(opts, "ipv6"),
        driver_opts={**extra, **driver_opts},
        labels=labels,
    )


def _text(opts: Mapping[str, OptionValue], key: str) -> str | None:
    value = opts.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"options.{key} must be a string.", hint="e.g. 10.42.0.0/24.")
    return value


def _flag(opts: Mapping[str, OptionValue], key: str) -> bool:
    value = opts.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise InvalidArgument(f"options.{key} must be true or false.")
