"""The network judge: drivers and driver options that reach the host's interfaces are refused,
on a request's values and on the engine's inspect values alike."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, lexical_resolver
from mcp_docker_server.policy.compose import judge_compose_config
from mcp_docker_server.policy.networks import admit_network, judge_network
from mcp_docker_server.specs.networks import NetworkSpec

POLICY = Policy()

# What the engine reports for its default bridge (docker network inspect bridge).
DEFAULT_BRIDGE = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}


def admitted(policy: Policy, name: str, driver: str | None, options: Mapping[str, object] | None) -> bool:
    judge_network(policy, name, driver, options)  # raises when refused
    return True


def refused(
    name: str, driver: str | None, options: Mapping[str, object] | None = None, policy: Policy = POLICY
) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as caught:
        judge_network(policy, name, driver, options)
    return caught.value


@pytest.mark.parametrize("driver", [None, "", "bridge", "overlay", "null", "none", "Bridge"])
def test_private_drivers_are_admitted(driver: str | None) -> None:
    assert admitted(POLICY, "net", driver, None)
    assert admitted(POLICY, "net", driver, {})


@pytest.mark.parametrize("driver", ["macvlan", "ipvlan", "some/plugin:latest", "transparent"])
def test_other_drivers_are_refused_naming_the_network_driver_and_key(driver: str) -> None:
    denial = refused("lan", driver)
    assert denial.rule == "network-driver"
    assert f"network 'lan' uses the driver {driver.lower()!r}" in denial.reason
    assert denial.setting == f'allowed_network_drivers = ["{driver.lower()}"]'
    assert "allowed_network_drivers" in str(denial)
    assert admitted(Policy(allowed_network_drivers=(driver,)), "lan", driver, {})


def test_an_allowed_driver_still_needs_its_options_allowed() -> None:
    policy = Policy(allowed_network_drivers=("macvlan",))
    denial = refused("lan", "macvlan", {"parent": "eth0"}, policy)
    assert (denial.rule, denial.setting) == ("network-option", 'allow_network_options = ["parent"]')
    both = Policy(allowed_network_drivers=("macvlan",), allow_network_options=("parent",))
    assert admitted(both, "lan", "macvlan", {"parent": "eth0"})


@pytest.mark.parametrize(
    "option",
    [
        "com.docker.network.bridge.name",
        "com.docker.network.bridge.gateway_mode_ipv4",
        "com.docker.network.bridge.trusted_host_interfaces",
        "com.docker.network.bridge.default_bridge",
        "parent",
        "made.up.option",
    ],
)
def test_options_outside_the_harmless_set_are_refused(option: str) -> None:
    denial = refused("net", "bridge", {option: "docker0", "com.docker.network.driver.mtu": "1400"})
    assert denial.rule == "network-option"
    assert f"network 'net' sets the driver option {option}" in denial.reason
    assert denial.setting == f'allow_network_options = ["{option}"]'
    assert admitted(Policy(allow_network_options=(option,)), "net", "bridge", {option: "x"})


def test_every_refused_option_is_named_at_once() -> None:
    denial = refused("net", None, {"parent": "eth0", "com.docker.network.bridge.name": "br0"})
    assert denial.setting == 'allow_network_options = ["com.docker.network.bridge.name", "parent"]'


def test_harmless_bridge_and_overlay_options_are_admitted() -> None:
    bridge = {
        "com.docker.network.bridge.enable_icc": "false",
        "com.docker.network.bridge.enable_ip_masquerade": "true",
        "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1",
        "com.docker.network.driver.mtu": "1400",
        "com.docker.network.container_iface_prefix": "eth",
    }
    assert admitted(POLICY, "net", "bridge", bridge)
    overlay = {"encrypted": "", "com.docker.network.driver.overlay.vxlanid_list": "4097"}
    assert admitted(POLICY, "ov", "overlay", overlay)


def test_the_engines_default_bridge_is_admitted_as_the_engine_reports_it() -> None:
    assert admitted(POLICY, "bridge", "bridge", DEFAULT_BRIDGE)
    # Another network with the same options is an adoption of docker0.
    assert refused("mine", "bridge", DEFAULT_BRIDGE).rule == "network-option"
    # "bridge" without the engine's marker is judged like any other.
    assert refused("bridge", "bridge", {"com.docker.network.bridge.name": "docker0"}).rule == "network-option"


def test_the_host_driver_is_the_host_namespace_rule() -> None:
    denial = refused("host", "host", {})
    assert (denial.rule, denial.setting) == ("host-network", "allow_host_namespaces = true")
    assert admitted(Policy(allow_host_namespaces=True), "host", "host", {})


def test_network_management_specs_are_admitted_only_when_judged_harmless() -> None:
    admitted = admit_network(
        POLICY, NetworkSpec("net", driver_opts={"com.docker.network.driver.mtu": "1400"})
    )
    assert admitted.unwrap().name == "net"
    with pytest.raises(PolicyDenied, match="allowed_network_drivers"):
        admit_network(POLICY, NetworkSpec("lan", driver="ipvlan", driver_opts={"parent": "eth0"}))
    with pytest.raises(PolicyDenied, match=r"com\.docker\.network\.bridge\.name"):
        admit_network(POLICY, NetworkSpec("br", driver_opts={"com.docker.network.bridge.name": "docker0"}))


def test_compose_networks_are_judged_unless_external() -> None:
    def config(network: dict[str, object]) -> dict[str, object]:
        return {"name": "proj", "services": {}, "networks": {"lan": {"name": "proj_lan", **network}}}

    takeover: dict[str, object] = {
        "driver": "bridge",
        "driver_opts": {"com.docker.network.bridge.name": "docker0"},
    }
    with pytest.raises(PolicyDenied) as caught:
        judge_compose_config(POLICY, config(takeover), lexical_resolver)
    assert caught.value.rule == "network-option"
    assert "network 'proj_lan'" in caught.value.reason
    judge_compose_config(POLICY, config({**takeover, "external": True}), lexical_resolver)
    judge_compose_config(
        POLICY, config({"driver_opts": {"com.docker.network.driver.mtu": "1400"}}), lexical_resolver
    )
