"""The network judge: whether a network keeps its containers off the host's own interfaces.

Pure: no I/O. One rule for every way a network comes into play: one network-management
creates, one a compose file declares, and one a container joins (judged on the driver and
options the engine reports in its inspect, ``Driver`` and ``Options``).

A bridge network the engine makes is a private bridge of its own; macvlan and ipvlan put
containers on a host interface's link (the LAN, with addresses of their own), and a bridge
created with ``com.docker.network.bridge.name`` adopts an existing host bridge (docker0 taken
over this way is re-addressed, and removing the network drops the default bridge's iptables
rules). So drivers and driver options are allowlists: what is not known harmless is refused
unless the operator names it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import Admitted, Policy, admit
from mcp_docker_server.specs.networks import NetworkSpec

__all__ = ["HARMLESS_NETWORK_OPTIONS", "NETWORK_DRIVERS", "admit_network", "judge_network"]

# Drivers whose networks stay inside the engine: a bridge of its own, a swarm overlay, no
# network at all. "" is what Compose leaves when the file names no driver (bridge, or overlay
# on a swarm).
NETWORK_DRIVERS = frozenset({"", "bridge", "overlay", "null", "none"})

# Driver options (moby's bridge and overlay drivers, libnetwork netlabel) that change how the
# network behaves inside, never which host interface it uses.
HARMLESS_NETWORK_OPTIONS = frozenset(
    {
        "com.docker.network.bridge.enable_icc",
        "com.docker.network.bridge.enable_ip_masquerade",
        "com.docker.network.bridge.host_binding_ipv4",
        "com.docker.network.driver.mtu",
        "com.docker.network.container_iface_prefix",
        "encrypted",  # overlay: IPsec between nodes
        # overlay: the VXLAN ids; the engine sets it itself on every overlay it makes.
        "com.docker.network.driver.overlay.vxlanid_list",
    }
)

# The engine's default bridge reports docker0 among its options: its own bridge, not an
# adoption. Nobody can create a network named "bridge" (moby refuses the predefined names), and
# the marker below is not an allowed option, so only the engine's own network passes this way.
_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"


def judge_network(
    policy: Policy, name: str, driver: str | None, options: Mapping[str, object] | None
) -> None:
    """Refuse a network whose driver or driver options reach the host's interfaces.

    ``name`` is how the refusal names the network; ``driver`` and ``options`` are the request's
    (``driver_opts``) or the engine's inspect values (``Driver``, ``Options``; ``None`` for
    either is read as none given). Returns when admitted.

    Raises:
        PolicyDenied: rule ``network-driver`` (policy key ``allowed_network_drivers``),
            ``network-option`` (``allow_network_options``), or ``host-network``
            (``allow_host_namespaces``) for the host driver.
    """
    kind = (driver or "").strip().lower()
    if name == "bridge" and kind == "bridge" and str((options or {}).get(_DEFAULT_BRIDGE)).lower() == "true":
        return
    if kind == "host":
        # The engine's one host network: the same judgment as network_mode=host.
        if policy.allow_host_namespaces:
            return
        raise PolicyDenied(
            "host-network",
            f"network {name!r} uses the host driver, which shares the host's network namespace",
            hint="use a user-defined bridge network.",
            setting="allow_host_namespaces = true",
        )
    if kind not in NETWORK_DRIVERS and kind not in _lowered(policy.allowed_network_drivers):
        raise PolicyDenied(
            "network-driver",
            f"network {name!r} uses the driver {kind!r}, which can attach containers to the host's own "
            "network interfaces (bridge, overlay and null are allowed)",
            hint="use the bridge driver (the default).",
            setting=f'allowed_network_drivers = ["{kind}"]',
        )
    refused = sorted(
        str(key)
        for key in (options or {})
        if str(key) not in HARMLESS_NETWORK_OPTIONS and str(key) not in policy.allow_network_options
    )
    if refused:
        shown = ", ".join(refused)
        raise PolicyDenied(
            "network-option",
            f"network {name!r} sets the driver option {shown}, which this policy does not allow "
            "(com.docker.network.bridge.name adopts a host bridge, parent picks a host interface; "
            "unknown options are refused)",
            hint="remove that option; the engine then makes a private bridge of its own. Allowed options: "
            + ", ".join(sorted(HARMLESS_NETWORK_OPTIONS))
            + ".",
            setting="allow_network_options = [" + ", ".join(f'"{key}"' for key in refused) + "]",
        )


def admit_network(policy: Policy, spec: NetworkSpec) -> Admitted[NetworkSpec]:
    """Approve a network to create (network-management create).

    Raises:
        PolicyDenied: as :func:`judge_network`.
    """
    judge_network(policy, spec.name, spec.driver, spec.driver_opts)
    return admit(spec)


def _lowered(names: tuple[str, ...]) -> set[str]:
    return {n.strip().lower() for n in names}
