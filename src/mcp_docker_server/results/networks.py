"""What network-management returns."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["NetworkDetail", "NetworkResult", "NetworkRow"]


class NetworkRow(Compact):
    """One network in a listing."""

    id: str
    name: str
    driver: str
    scope: str
    internal: bool = False
    subnets: list[str] = Field(default_factory=list)


class NetworkDetail(NetworkRow):
    """A network with its settings and attached containers."""

    attachable: bool = False
    gateways: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    containers: dict[str, str] = Field(default_factory=dict, description="Container name to IPv4 address.")


class NetworkResult(Compact):
    """Result of network-management; which fields are set depends on the action."""

    action: str
    network: NetworkDetail | None = None
    networks: list[NetworkRow] | None = None
    connected: list[str] | None = None
    disconnected: list[str] | None = None
    removed: list[str] | None = None
    note: str | None = None
