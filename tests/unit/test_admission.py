"""Admission over the engine's own description of a container and of a swarm task template (pure).

Every test names the rule that matched, what the message names and the policy key it offers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import PathInfo, PathResolver, Policy, lexical_resolver
from mcp_docker_server.policy.admission import (
    HARMLESS_CONFIG,
    HARMLESS_HOST_CONFIG,
    JUDGED_HOST_CONFIG,
    SAFE_SYSCTLS,
    ContainerDescription,
    VolumeInfo,
    judge_container,
    judge_task_template,
    parse_bind,
    security_option,
)
from mcp_docker_server.policy.model import DEFAULT_CAPABILITIES

POLICY = Policy()
SHA = "sha256:" + "ab" * 32
# The engine's defaults (moby oci/defaults.go), as an inspect of a default container shows them.
MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
]  # fmt: skip
READ_ONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
GPU = {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
BIND_ETC = {"type": "none", "o": "bind", "device": "/etc"}


def fake_resolver(links: Mapping[str, str], sockets: frozenset[str] = frozenset()) -> PathResolver:
    """Lexical resolution, except that each of ``links`` (a symlink) resolves to its target."""

    def resolve(path: str) -> PathInfo:
        real = lexical_resolver(path).real_path
        for link, target in links.items():
            if real == link or real.startswith(link + "/"):
                real = target + real[len(link) :]
        return PathInfo(real_path=real, is_socket=real in sockets or real.endswith(".sock"))

    return resolve


def describe(
    host: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    networks: Mapping[str, Any] | None = None,
    volumes: Mapping[str, VolumeInfo] | None = None,
    cgroup_version: str = "2",
    built_images: frozenset[str] = frozenset(),
) -> ContainerDescription:
    return ContainerDescription(
        name="web",
        config={"Image": "busybox:1.36"} if config is None else config,
        host_config=host or {},
        networks=networks or {},
        volumes=volumes or {},
        cgroup_version=cgroup_version,
        built_images=built_images,
    )


def admit(
    host: Mapping[str, Any] | None = None,
    policy: Policy = POLICY,
    resolve: PathResolver = lexical_resolver,
    **kwargs: Any,
) -> None:
    judge_container(policy, describe(host, **kwargs), resolve)


def refused(
    host: Mapping[str, Any] | None = None,
    policy: Policy = POLICY,
    resolve: PathResolver = lexical_resolver,
    **kwargs: Any,
) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as caught:
        judge_container(policy, describe(host, **kwargs), resolve)
    assert caught.value.reason.startswith("container web: ")
    assert str(caught.value).startswith(f"Denied by policy rule '{caught.value.rule}': container web: ")
    return caught.value


def opened(name: str) -> str:
    return f'allow_container_fields = ["{name}"]'


# --------------------------------------------------------------------------- every judged field

# field: (harmful value, rule, words the message names, setting, harmless value or None, opening policy)
JUDGED: dict[str, tuple[Any, str, tuple[str, ...], str, Any, Policy]] = {
    "Annotations": (
        {"io.containerd.runc.v2.group": "x"},
        "annotations",
        ("OCI annotations",),
        opened("HostConfig.Annotations"),
        None,
        Policy(allow_container_fields=("HostConfig.Annotations",)),
    ),
    "Binds": (
        ["/etc:/host-etc:ro"],
        "sensitive-bind",
        ("bind source /etc", "/etc"),
        "allow_sensitive_binds = true",
        ["/srv/data:/data:ro", "cache:/cache", "/anonymous"],
        Policy(allow_sensitive_binds=True),
    ),
    "CapAdd": (
        ["NET_BIND_SERVICE", "SYS_ADMIN"],
        "cap-add",
        ("capabilities SYS_ADMIN",),
        "capability_allowlist",
        ["NET_BIND_SERVICE", "CAP_CHOWN"],
        Policy(capability_allowlist=DEFAULT_CAPABILITIES | {"SYS_ADMIN"}),
    ),
    "Cgroup": (
        "container:db",
        "shared-cgroup",
        ("cgroup mode 'container:db'", "another container"),
        "allow_host_namespaces = true",
        None,
        Policy(allow_host_namespaces=True),
    ),
    "CgroupParent": (
        "/system.slice",
        "cgroupparent",
        ("HostConfig.CgroupParent", "/system.slice"),
        opened("HostConfig.CgroupParent"),
        None,
        Policy(allow_container_fields=("HostConfig.CgroupParent",)),
    ),
    "CgroupnsMode": (
        "host",
        "host-cgroupns",
        ("cgroupns mode 'host'", "the host"),
        "allow_host_namespaces = true",
        "private",
        Policy(allow_host_namespaces=True),
    ),
    "DeviceCgroupRules": (
        ["c 1:3 mr"],
        "devices",
        ("device rules", "c 1:3 mr"),
        "allow_devices = true",
        None,
        Policy(allow_devices=True),
    ),
    "DeviceRequests": (
        [{"Driver": "", "Count": 1, "DeviceIDs": None, "Capabilities": [["tpu"]], "Options": {}}],
        "devices",
        ("mapping host devices",),
        "allow_devices = true",
        [GPU],
        Policy(allow_devices=True),
    ),
    "Devices": (
        [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}],
        "devices",
        ("mapping host devices", "/dev/sda"),
        "allow_devices = true",
        None,
        Policy(allow_devices=True),
    ),
    "IpcMode": (
        "host",
        "host-ipc",
        ("ipc mode 'host'", "the host"),
        "allow_host_namespaces = true",
        "shareable",
        Policy(allow_host_namespaces=True),
    ),
    "Isolation": (
        "hyperv",
        "isolation",
        ("isolation 'hyperv'",),
        opened("HostConfig.Isolation"),
        "default",
        Policy(allow_container_fields=("HostConfig.Isolation",)),
    ),
    "LogConfig": (
        {"Type": "syslog", "Config": {"syslog-address": "udp://10.0.0.1:514"}},
        "logconfig",
        ("log driver 'syslog'",),
        opened("HostConfig.LogConfig"),
        {"Type": "json-file", "Config": {"max-size": "10m"}},
        Policy(allow_container_fields=("HostConfig.LogConfig",)),
    ),
    "MaskedPaths": (
        ["/proc/acpi"],
        "unconfined",
        ("HostConfig.MaskedPaths", "/proc/kcore", "systempaths=unconfined"),
        "allow_unconfined = true",
        MASKED,
        Policy(allow_unconfined=True),
    ),
    "Mounts": (
        [{"Type": "bind", "Source": "/etc", "Target": "/x"}],
        "sensitive-bind",
        ("bind source /etc",),
        "allow_sensitive_binds = true",
        [
            {"Type": "bind", "Source": "/srv/data", "Target": "/data", "ReadOnly": True},
            {"Type": "volume", "Source": "cache", "Target": "/cache"},
            {"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1 << 20}},
        ],
        Policy(allow_sensitive_binds=True),
    ),
    "NetworkMode": (
        "host",
        "host-network",
        ("network mode 'host'", "the host"),
        "allow_host_namespaces = true",
        "my-net",
        Policy(allow_host_namespaces=True),
    ),
    "Links": (
        ["/db:/web/db"],
        "links",
        ("legacy links (/db:/web/db)", "environment"),
        opened("HostConfig.Links"),
        None,
        Policy(allow_container_fields=("HostConfig.Links",)),
    ),
    "OomScoreAdj": (
        -500,
        "oomscoreadj",
        ("oom_score_adj -500",),
        opened("HostConfig.OomScoreAdj"),
        500,
        Policy(allow_container_fields=("HostConfig.OomScoreAdj",)),
    ),
    "PidMode": (
        "host",
        "host-pid",
        ("pid mode 'host'", "the host"),
        "allow_host_namespaces = true",
        None,
        Policy(allow_host_namespaces=True),
    ),
    "Privileged": (
        True,
        "privileged",
        ("HostConfig.Privileged",),
        "allow_privileged = true",
        None,
        Policy(allow_privileged=True),
    ),
    "ReadonlyPaths": (
        ["/proc/bus"],
        "unconfined",
        ("HostConfig.ReadonlyPaths", "/proc/sys", "systempaths=unconfined"),
        "allow_unconfined = true",
        READ_ONLY,
        Policy(allow_unconfined=True),
    ),
    "Runtime": (
        "runsc",
        "runtime",
        ("runtime 'runsc'",),
        opened("HostConfig.Runtime"),
        "runc",
        Policy(allow_container_fields=("HostConfig.Runtime",)),
    ),
    "SecurityOpt": (
        ["seccomp=unconfined"],
        "unconfined",
        ("security_opt 'seccomp=unconfined'",),
        "allow_unconfined = true",
        ["no-new-privileges", "label=level:s0:c1,c2"],
        Policy(allow_unconfined=True),
    ),
    "StorageOpt": (
        {"size": "10G", "dm.basesize": "20G"},
        "storageopt",
        ("storage options dm.basesize",),
        opened("HostConfig.StorageOpt"),
        {"size": "10G"},
        Policy(allow_container_fields=("HostConfig.StorageOpt",)),
    ),
    "Sysctls": (
        {"net.ipv4.tcp_syncookies": "1", "kernel.core_pattern": "|/tmp/x"},
        "sysctls",
        ("sysctls kernel.core_pattern",),
        opened("HostConfig.Sysctls"),
        {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.tcp_syncookies": "1"},
        Policy(allow_container_fields=("HostConfig.Sysctls",)),
    ),
    "UTSMode": (
        "host",
        "host-uts",
        ("uts mode 'host'", "the host"),
        "allow_host_namespaces = true",
        None,
        Policy(allow_host_namespaces=True),
    ),
    "UsernsMode": (
        "host",
        "host-userns",
        ("userns mode 'host'", "the host"),
        "allow_host_namespaces = true",
        None,
        Policy(allow_host_namespaces=True),
    ),
    "VolumeDriver": (
        "convoy",
        "volume-driver",
        ("volume driver 'convoy'",),
        "allowed_volume_drivers",
        "local",
        Policy(allowed_volume_drivers=("convoy",)),
    ),
    "VolumesFrom": (
        ["other:ro"],
        "volumes-from",
        ("HostConfig.VolumesFrom",),
        "allow_host_namespaces = true",
        None,
        Policy(allow_host_namespaces=True),
    ),
}


def test_a_link_on_a_user_defined_network_is_only_a_name() -> None:
    admit({"Links": ["/db:/web/db"], "NetworkMode": "app-net"})


def test_every_judged_field_has_a_case_here() -> None:
    assert set(JUDGED) == JUDGED_HOST_CONFIG
    assert not JUDGED_HOST_CONFIG & HARMLESS_HOST_CONFIG


@pytest.mark.parametrize("name", sorted(JUDGED))
def test_a_harmful_value_of_a_judged_field_is_refused_naming_it(name: str) -> None:
    value, rule, words, setting, _, _ = JUDGED[name]
    denial = refused({name: value})
    assert denial.rule == rule
    assert denial.setting == setting
    for word in words:
        assert word in denial.reason
    assert f"({setting} in the policy file)" in str(denial)


@pytest.mark.parametrize("name", sorted(n for n, case in JUDGED.items() if case[4] is not None))
def test_a_harmless_value_of_a_judged_field_is_admitted(name: str) -> None:
    admit({name: JUDGED[name][4]})


@pytest.mark.parametrize("name", sorted(JUDGED))
def test_the_operator_key_named_in_the_refusal_admits_the_harmful_value(name: str) -> None:
    value, *_, policy = JUDGED[name]
    admit({name: value}, policy)


# A value for each harmless field, as an inspect or a create body carries it.
HARMLESS_VALUES: dict[str, Any] = {
    "AutoRemove": True,
    "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1024}],
    "BlkioDeviceReadIOps": [{"Path": "/dev/sda", "Rate": 10}],
    "BlkioDeviceWriteBps": [{"Path": "/dev/sda", "Rate": 1024}],
    "BlkioDeviceWriteIOps": [{"Path": "/dev/sda", "Rate": 10}],
    "BlkioWeight": 300,
    "BlkioWeightDevice": [{"Path": "/dev/sda", "Weight": 200}],
    "CapDrop": ["ALL"],
    "ConsoleSize": [24, 80],
    "ContainerIDFile": "/tmp/cid",
    "CpuCount": 1,
    "CpuPercent": 50,
    "CpuPeriod": 100000,
    "CpuQuota": 50000,
    "CpuRealtimePeriod": 1000,
    "CpuRealtimeRuntime": 100,
    "CpuShares": 512,
    "CpusetCpus": "0-1",
    "CpusetMems": "0",
    "Dns": ["1.1.1.1"],
    "DnsOptions": ["ndots:2"],
    "DnsSearch": ["example.com"],
    "ExtraHosts": ["db:10.0.0.2"],
    "GroupAdd": ["audio"],
    "IOMaximumBandwidth": 1 << 20,
    "IOMaximumIOps": 100,
    "Init": True,
    "KernelMemory": 1 << 26,
    "KernelMemoryTCP": 1 << 24,
    "Memory": 1 << 28,
    "MemoryReservation": 1 << 27,
    "MemorySwap": 1 << 29,
    "MemorySwappiness": 10,
    "NanoCpus": 500_000_000,
    "OomKillDisable": True,
    "PidsLimit": 100,
    "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
    "PublishAllPorts": True,
    "ReadonlyRootfs": True,
    "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    "ShmSize": 1 << 26,
    "Tmpfs": {"/run": "rw,noexec,size=64m"},
    "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
}


def test_every_harmless_field_has_a_value_here() -> None:
    assert set(HARMLESS_VALUES) == HARMLESS_HOST_CONFIG


@pytest.mark.parametrize("name", sorted(HARMLESS_VALUES))
def test_every_harmless_host_config_field_with_a_value_is_admitted(name: str) -> None:
    admit({name: HARMLESS_VALUES[name]})


def test_all_harmless_fields_together_with_every_config_field_are_admitted() -> None:
    config: dict[str, Any] = dict.fromkeys(HARMLESS_CONFIG, "x")
    config["Image"] = "busybox:1.36"
    admit(HARMLESS_VALUES, config=config)


def test_a_default_inspect_with_its_zero_values_is_admitted() -> None:
    host = {
        **dict.fromkeys(JUDGED_HOST_CONFIG),
        "NetworkMode": "bridge",
        "IpcMode": "private",
        "CgroupnsMode": "private",
        "Privileged": False,
        "OomScoreAdj": 0,
        "Isolation": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "MaskedPaths": MASKED,
        "ReadonlyPaths": READ_ONLY,
        "Binds": None,
        "Mounts": [],
        "Devices": [],
        "SecurityOpt": None,
        "Runtime": "runc",
        "VolumeDriver": "",
    }
    admit(host, networks={"bridge": {}})


# --------------------------------------------------------------------------- unknown fields


@pytest.mark.parametrize("part", ["HostConfig", "Config"])
def test_an_unknown_field_with_a_value_is_refused_naming_it(part: str) -> None:
    field = {"NewThing": {"Enabled": True}}
    kwargs: dict[str, Any] = {"config": {"Image": "busybox:1.36", **field}} if part == "Config" else {}
    denial = refused(field if part == "HostConfig" else None, **kwargs)
    assert denial.rule == "unknown-field"
    assert f"{part}.NewThing is set" in denial.reason
    assert '{"Enabled": true}' in denial.reason
    assert denial.setting == f'allow_container_fields = ["{part}.NewThing"]'


@pytest.mark.parametrize("zero", [None, "", 0, False, [], {}])
@pytest.mark.parametrize("part", ["HostConfig", "Config"])
def test_an_unknown_field_at_its_zero_value_is_admitted(part: str, zero: object) -> None:
    if part == "HostConfig":
        admit({"NewThing": zero})
    else:
        admit(config={"Image": "busybox:1.36", "NewThing": zero})


@pytest.mark.parametrize("part", ["HostConfig", "Config"])
def test_allow_container_fields_opens_an_unknown_field(part: str) -> None:
    policy = Policy(allow_container_fields=(f"{part}.NewThing",))
    if part == "HostConfig":
        admit({"NewThing": "on"}, policy)
    else:
        admit(config={"Image": "busybox:1.36", "NewThing": "on"}, policy=policy)


def test_opening_one_unknown_field_does_not_open_another() -> None:
    denial = refused(
        {"NewThing": 1, "OtherThing": 2}, Policy(allow_container_fields=("HostConfig.NewThing",))
    )
    assert denial.setting == opened("HostConfig.OtherThing")


def test_a_long_unknown_value_is_shortened_in_the_message() -> None:
    denial = refused({"NewThing": "y" * 500})
    assert "y" * 79 in denial.reason
    assert "y" * 81 not in denial.reason


# --------------------------------------------------------------------------- security options


@pytest.mark.parametrize(
    "option",
    [
        "seccomp=unconfined",
        "seccomp:unconfined",
        "seccomp = unconfined",
        " seccomp=unconfined ",
        "SECCOMP=unconfined",
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}',
        'seccomp:{"defaultAction":"SCMP_ACT_ALLOW"}',
        "seccomp=/etc/profile.json",
        "apparmor=unconfined",
        "apparmor:unconfined",
        "apparmor=my-loose-profile",
        "label=disable",
        "label:disable",
        "disable",  # moby takes a bare "disable" as label=disable
        "label=type:spc_t",
        "label:type:spc_t",
        "label=user:system_u",
        "label=role:system_r",
        "label=filetype:container_file_t",
        "systempaths=unconfined",
        "no-new-privileges=maybe",
        "something-new=on",
    ],
)
def test_security_options_that_lift_a_confinement_are_refused_in_every_spelling(option: str) -> None:
    denial = refused({"SecurityOpt": ["no-new-privileges", option]})
    assert denial.rule == "unconfined"
    assert f"security_opt {option[:120]!r}" in denial.reason
    assert denial.setting == "allow_unconfined = true"
    admit({"SecurityOpt": [option]}, Policy(allow_unconfined=True))


@pytest.mark.parametrize(
    "option",
    [
        "no-new-privileges",
        "no-new-privileges:true",
        "no-new-privileges=true",
        "no-new-privileges=1",
        "label=level:s0:c1,c2",
        "label:level:s0:c100,c200",
        "apparmor=docker-default",
        "seccomp=builtin",
    ],
)
def test_security_options_that_keep_the_confinement_are_admitted(option: str) -> None:
    admit({"SecurityOpt": [option]})


@pytest.mark.parametrize(
    "option", ["no-new-privileges=false", "no-new-privileges:false", "No-New-Privileges = 0"]
)
def test_no_new_privileges_cannot_be_turned_off_while_the_policy_sets_it(option: str) -> None:
    denial = refused({"SecurityOpt": [option]})
    assert denial.rule == "no-new-privileges"
    assert denial.setting == "no_new_privileges = false"
    admit({"SecurityOpt": [option]}, Policy(no_new_privileges=False))


def test_a_custom_seccomp_profile_is_refused_without_quoting_any_of_it() -> None:
    """The profile may be any host file Compose read: its text never appears in the refusal."""
    profile = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[' + '{"names":["x"]},' * 50 + "]}"
    denial = refused({"SecurityOpt": [f"seccomp={profile}"]})
    assert denial.rule == "unconfined"
    assert "SCMP_ACT_ALLOW" not in denial.reason
    assert f"a custom profile of {len(profile)} characters" in denial.reason


@pytest.mark.parametrize(
    ("option", "split"),
    [
        ("seccomp=unconfined", ("seccomp", "unconfined")),
        ("seccomp:unconfined", ("seccomp", "unconfined")),
        ("seccomp = unconfined", ("seccomp", "unconfined")),
        ("label=level:s0:c1,c2", ("label", "level:s0:c1,c2")),
        ("label:type:spc_t", ("label", "type:spc_t")),
        ("Apparmor=MyProfile", ("apparmor", "MyProfile")),
        ("no-new-privileges", ("no-new-privileges", "")),
        ('seccomp={"a":"b"}', ("seccomp", '{"a":"b"}')),
    ],
)
def test_security_option_splits_as_the_engine_does(option: str, split: tuple[str, str]) -> None:
    assert security_option(option) == split


# --------------------------------------------------------------------------- namespaces

NAMESPACE_FIELDS = {
    "NetworkMode": "network",
    "PidMode": "pid",
    "IpcMode": "ipc",
    "UTSMode": "uts",
    "UsernsMode": "userns",
    "Cgroup": "cgroup",
}


@pytest.mark.parametrize("name", sorted(NAMESPACE_FIELDS))
@pytest.mark.parametrize("mode", ["host", "HOST", " host "])
def test_host_namespaces_are_refused(name: str, mode: str) -> None:
    namespace = NAMESPACE_FIELDS[name]
    denial = refused({name: mode})
    assert denial.rule == f"host-{namespace}"
    assert f"{namespace} mode {mode!r} shares a namespace with the host" in denial.reason
    assert denial.setting == "allow_host_namespaces = true"
    admit({name: mode}, Policy(allow_host_namespaces=True))


@pytest.mark.parametrize("name", sorted(NAMESPACE_FIELDS))
@pytest.mark.parametrize("mode", ["container:db", "container:3f2a9c", "service:db", "Container:db"])
def test_sharing_another_containers_namespace_is_refused(name: str, mode: str) -> None:
    namespace = NAMESPACE_FIELDS[name]
    denial = refused({name: mode})
    assert denial.rule == f"shared-{namespace}"
    assert f"{namespace} mode {mode!r} shares a namespace with another container" in denial.reason
    assert denial.setting == "allow_host_namespaces = true"
    admit({name: mode}, Policy(allow_host_namespaces=True))


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("NetworkMode", "bridge"),
        ("NetworkMode", "default"),
        ("NetworkMode", "none"),
        ("NetworkMode", "my-hostnet"),
        ("IpcMode", "private"),
        ("IpcMode", "shareable"),
        ("IpcMode", "none"),
        ("PidMode", "private"),
        ("UsernsMode", "private"),
    ],
)
def test_private_namespaces_are_admitted(name: str, mode: str) -> None:
    admit({name: mode})


def test_cgroupns_host_is_refused_on_cgroup_v2_and_admitted_on_v1() -> None:
    denial = refused({"CgroupnsMode": "host"}, cgroup_version="2")
    assert (denial.rule, denial.setting) == ("host-cgroupns", "allow_host_namespaces = true")
    assert "cgroupns mode 'host'" in denial.reason
    assert refused({"CgroupnsMode": "HOST"}).rule == "host-cgroupns"
    # cgroup v1: "host" is the engine's own default there, so it says nothing about the request.
    admit({"CgroupnsMode": "host"}, cgroup_version="1")
    admit({"CgroupnsMode": "private"}, cgroup_version="2")


@pytest.mark.parametrize("network", ["host", "Host"])
def test_attaching_to_the_network_named_host_is_refused(network: str) -> None:
    denial = refused({"NetworkMode": "my-net"}, networks={"my-net": {}, network: {}})
    assert denial.rule == "host-network"
    assert "network mode 'host' shares a namespace with the host" in denial.reason
    assert denial.setting == "allow_host_namespaces = true"
    admit({"NetworkMode": "my-net"}, Policy(allow_host_namespaces=True), networks={network: {}})


def test_attaching_to_ordinary_networks_is_admitted() -> None:
    admit({"NetworkMode": "frontend"}, networks={"frontend": {}, "backend": {}, "hostnet": {}})


# --------------------------------------------------------------------------- binds and mounts


@pytest.mark.parametrize(
    ("bind", "rule"),
    [
        ("/:/host", "sensitive-bind"),
        ("/etc:/x", "sensitive-bind"),
        ("/etc/shadow:/x:ro", "sensitive-bind"),
        ("/tmp/../etc:/x", "sensitive-bind"),
        ("/proc:/x", "sensitive-bind"),
        ("/var/lib/docker:/x", "sensitive-bind"),
        ("/root:/x", "sensitive-bind"),
        ("/home/u/.ssh:/x", "credential-bind"),
        ("/srv/app/.docker/config.json:/x", "credential-bind"),
        ("/home/u:/x", "home-folder"),
        ("/home/u/.bashrc:/x", "startup-file"),
        ("/var/run/docker.sock:/var/run/docker.sock", "socket-bind"),
        ("/srv/app/agent.sock:/x", "socket-bind"),
    ],
)
def test_sensitive_bind_sources_are_refused(bind: str, rule: str) -> None:
    source = bind.split(":")[0]
    for host in ({"Binds": [bind]}, {"Mounts": [{"Type": "bind", "Source": source, "Target": "/x"}]}):
        denial = refused(host)
        assert denial.rule == rule
        assert f"bind source {source}" in denial.reason
        expected = "allow_socket_binds = true" if rule == "socket-bind" else "allow_sensitive_binds = true"
        assert denial.setting == expected


def test_sockets_are_opened_by_allow_socket_binds_only() -> None:
    bind = {"Binds": ["/srv/app/agent.sock:/x"]}
    admit(bind, Policy(allow_socket_binds=True))
    assert refused(bind, Policy(allow_sensitive_binds=True)).rule == "socket-bind"


def test_a_symlink_is_judged_by_the_path_it_resolves_to() -> None:
    resolve = fake_resolver({"/srv/innocent": "/etc"})
    for host in (
        {"Binds": ["/srv/innocent:/x"]},
        {"Mounts": [{"Type": "bind", "Source": "/srv/innocent/ssh", "Target": "/x"}]},
    ):
        denial = refused(host, resolve=resolve)
        assert denial.rule == "sensitive-bind"
        assert "resolves to /etc" in denial.reason
    admit({"Binds": ["/srv/other:/x"]}, resolve=resolve)


def test_a_path_that_resolves_to_a_socket_is_refused_whatever_its_name() -> None:
    resolve = fake_resolver({"/srv/ctl": "/srv/real-ctl"}, sockets=frozenset({"/srv/real-ctl"}))
    assert refused({"Binds": ["/srv/ctl:/ctl"]}, resolve=resolve).rule == "socket-bind"


@pytest.mark.parametrize("mode", ["shared", "rshared"])
def test_shared_propagation_is_refused(mode: str) -> None:
    for host in (
        {"Binds": [f"/srv/data:/data:ro,{mode}"]},
        {"Binds": [f"cache:/data:{mode}"]},
        {"Mounts": [{"Type": "bind", "Source": "/srv/data", "Target": "/data",
                     "BindOptions": {"Propagation": mode}}]},
    ):  # fmt: skip
        denial = refused(host)
        assert denial.rule == "mount-propagation"
        assert f"{mode} propagation on /data" in denial.reason
        assert denial.setting == "allow_sensitive_binds = true"


@pytest.mark.parametrize("mode", ["private", "rprivate", "slave", "rslave"])
def test_private_and_slave_propagation_are_admitted(mode: str) -> None:
    admit({"Binds": [f"/srv/data:/data:{mode}"]})
    admit(
        {
            "Mounts": [
                {"Type": "bind", "Source": "/srv/data", "Target": "/d", "BindOptions": {"Propagation": mode}}
            ]
        }
    )


@pytest.mark.parametrize(
    ("bind", "parsed"),
    [
        ("/srv:/data", ("/srv", "/data", [])),
        ("/srv:/data:ro,rshared", ("/srv", "/data", ["ro", "rshared"])),
        ("cache:/c:z", ("cache", "/c", ["z"])),
        ("/anonymous", ("", "/anonymous", [])),
    ],
)
def test_parse_bind_splits_as_the_engine_does(bind: str, parsed: tuple[str, str, list[str]]) -> None:
    assert parse_bind(bind) == parsed


def test_a_named_volume_is_judged_by_its_driver_options() -> None:
    volumes = {"sneaky": VolumeInfo("local", BIND_ETC)}
    for host in (
        {"Binds": ["sneaky:/x"]},
        {"Mounts": [{"Type": "volume", "Source": "sneaky", "Target": "/x"}]},
    ):
        denial = refused(host, volumes=volumes)
        assert denial.rule == "sensitive-bind"
        assert "volume sneaky bind device /etc" in denial.reason
        assert denial.setting == "allow_sensitive_binds = true"


def test_a_named_volume_binding_a_plain_folder_needs_allow_volume_mounts() -> None:
    volumes = {"data": VolumeInfo("local", {"type": "none", "o": "bind", "device": "/srv/data"})}
    denial = refused({"Binds": ["data:/x"]}, volumes=volumes)
    assert (denial.rule, denial.setting) == ("volume-mount", "allow_volume_mounts = true")
    assert "volume data has driver options" in denial.reason
    admit({"Binds": ["data:/x"]}, Policy(allow_volume_mounts=True), volumes=volumes)


def test_plain_and_tmpfs_named_volumes_are_admitted() -> None:
    volumes = {"plain": VolumeInfo(), "mem": VolumeInfo("local", {"type": "tmpfs", "device": "tmpfs"})}
    admit({"Binds": ["plain:/a", "mem:/b", "unknown-yet:/c"]}, volumes=volumes)


def test_a_named_volume_of_a_plugin_driver_is_refused() -> None:
    denial = refused({"Binds": ["remote:/x"]}, volumes={"remote": VolumeInfo("sshfs", {})})
    assert (denial.rule, denial.setting) == ("volume-driver", "allowed_volume_drivers")
    assert "'sshfs'" in denial.reason


def test_an_inline_driver_config_binding_etc_is_refused() -> None:
    mount = {
        "Type": "volume",
        "Source": "fresh",
        "Target": "/x",
        "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": BIND_ETC}},
    }
    denial = refused({"Mounts": [mount]})
    assert denial.rule == "sensitive-bind"
    assert "volume fresh bind device /etc" in denial.reason
    anonymous = {**mount, "Source": ""}
    denial = refused({"Mounts": [anonymous]})
    assert denial.rule == "sensitive-bind"
    assert "(anonymous at /x)" in denial.reason


def test_an_inline_driver_config_does_not_hide_the_existing_volume() -> None:
    # The engine uses an existing volume as it is; an inline DriverConfig only applies when it
    # creates one. So both are judged.
    mount = {
        "Type": "volume",
        "Source": "sneaky",
        "Target": "/x",
        "VolumeOptions": {"DriverConfig": {"Name": "local"}},
    }
    denial = refused({"Mounts": [mount]}, volumes={"sneaky": VolumeInfo("local", BIND_ETC)})
    assert denial.rule == "sensitive-bind"
    assert "volume sneaky bind device /etc" in denial.reason


@pytest.mark.parametrize("kind", ["npipe", "cluster", "", "overlay"])
def test_mount_kinds_this_server_does_not_know_are_refused(kind: str) -> None:
    mount = {"Type": kind, "Source": r"\\.\pipe\docker_engine", "Target": "/x"}
    denial = refused({"Mounts": [mount]})
    assert denial.rule == "mounts"
    assert f"a {kind or 'typeless'} mount at /x" in denial.reason
    assert denial.setting == opened("HostConfig.Mounts")
    admit({"Mounts": [mount]}, Policy(allow_container_fields=("HostConfig.Mounts",)))


def test_a_mount_that_is_not_an_object_is_refused_as_unknown() -> None:
    denial = refused({"Mounts": ["/etc:/x"]})
    assert (denial.rule, denial.setting) == ("unknown-field", opened("HostConfig.Mounts"))


def test_an_image_mount_is_judged_by_the_image_allowlist() -> None:
    policy = Policy(image_allowlist=("busybox:*", "registry.local/*"))
    mount = {"Type": "image", "Source": "evil/tools:latest", "Target": "/tools"}
    denial = refused({"Mounts": [mount]}, policy)
    assert (denial.rule, denial.setting) == ("image-allowlist", "image_allowlist")
    assert "evil/tools:latest is not in the allowed images" in denial.reason
    admit({"Mounts": [{**mount, "Source": "registry.local/tools:1"}]}, policy)
    admit({"Mounts": [mount]})  # no allowlist: any image


def test_an_image_mount_must_be_pinned_when_digests_are_required() -> None:
    policy = Policy(require_digest=True)
    mount = {"Type": "image", "Source": "tools:latest", "Target": "/tools"}
    config = {"Image": f"busybox@{SHA}"}
    denial = refused({"Mounts": [mount]}, policy, config=config)
    assert (denial.rule, denial.setting) == ("require-digest", "require_digest = false")
    admit({"Mounts": [{**mount, "Source": f"tools@{SHA}"}]}, policy, config=config)


# --------------------------------------------------------------------------- system paths


@pytest.mark.parametrize("name", ["MaskedPaths", "ReadonlyPaths"])
def test_empty_system_paths_are_refused_as_systempaths_unconfined(name: str) -> None:
    denial = refused({name: []})
    assert denial.rule == "unconfined"
    assert f"HostConfig.{name} leaves" in denial.reason
    assert "(systempaths=unconfined)" in denial.reason
    assert denial.setting == "allow_unconfined = true"


def test_both_empty_system_path_lists_are_refused() -> None:
    assert refused({"MaskedPaths": [], "ReadonlyPaths": []}).rule == "unconfined"


@pytest.mark.parametrize("name", ["MaskedPaths", "ReadonlyPaths"])
def test_empty_system_paths_are_admitted_when_the_operator_allows_it(name: str) -> None:
    admit({name: []}, Policy(allow_unconfined=True))
    # A privileged container has no masks anyway; the privilege itself is what is judged.
    admit({name: [], "Privileged": True}, Policy(allow_privileged=True))
    assert refused({name: [], "Privileged": True}).rule == "privileged"


def test_default_and_wider_system_path_lists_are_admitted() -> None:
    admit({"MaskedPaths": MASKED, "ReadonlyPaths": READ_ONLY})
    admit({"MaskedPaths": [*MASKED, "/proc/extra"], "ReadonlyPaths": [*READ_ONLY, "/proc/more"]})
    admit({"MaskedPaths": None, "ReadonlyPaths": None})  # unset: the engine applies its defaults


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize(
    "request_",
    [
        GPU,
        {"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu", "utility"]]},
        {"Driver": "", "DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]]},
    ],
)
def test_gpu_device_requests_are_admitted(request_: dict[str, Any]) -> None:
    admit({"DeviceRequests": [request_]})


@pytest.mark.parametrize(
    "request_",
    [
        {"Driver": "", "Count": 1, "Capabilities": [["tpu"]]},
        {"Driver": "", "Count": 1, "Capabilities": []},
        {"Driver": "", "Count": 1, "Capabilities": None},
        # The engine's CDI driver ignores Capabilities and injects whatever DeviceIDs name.
        {"Driver": "cdi", "DeviceIDs": ["vendor.com/device=all"], "Capabilities": [["gpu"]]},
        {"Driver": "cdi", "DeviceIDs": ["vendor.com/device=all"]},
        {"Driver": "some-plugin", "Capabilities": [["gpu"]]},
        "not-an-object",
    ],
)
def test_other_device_requests_are_refused(request_: object) -> None:
    denial = refused({"DeviceRequests": [GPU, request_]})
    assert (denial.rule, denial.setting) == ("devices", "allow_devices = true")
    assert "mapping host devices or device rules" in denial.reason
    admit({"DeviceRequests": [request_]}, Policy(allow_devices=True))


def test_devices_and_device_cgroup_rules_are_refused_naming_them() -> None:
    denial = refused({"Devices": [{"PathOnHost": "/dev/kvm", "PathInContainer": "/dev/kvm"}]})
    assert (denial.rule, denial.setting) == ("devices", "allow_devices = true")
    assert "(/dev/kvm)" in denial.reason
    denial = refused({"DeviceCgroupRules": ["b 8:* rwm"]})
    assert (denial.rule, denial.setting) == ("devices", "allow_devices = true")
    assert "b 8:* rwm" in denial.reason


# --------------------------------------------------------------------------- other judged fields


@pytest.mark.parametrize("name", sorted(SAFE_SYSCTLS))
def test_each_safe_sysctl_is_admitted(name: str) -> None:
    admit({"Sysctls": {name: "1"}})


@pytest.mark.parametrize(
    "name",
    [
        "kernel.core_pattern",
        "net.ipv4.ip_forward",
        "kernel.msgmax",
        "vm.overcommit_memory",
        "NET.IPV4.TCP_SYNCOOKIES",
    ],
)
def test_other_sysctls_are_refused_naming_them(name: str) -> None:
    denial = refused({"Sysctls": {name: "1"}})
    assert (denial.rule, denial.setting) == ("sysctls", opened("HostConfig.Sysctls"))
    assert f"sysctls {name} are outside the safe" in denial.reason


@pytest.mark.parametrize("runtime", ["", "runc", "io.containerd.runc.v2"])
def test_the_engines_runc_is_admitted(runtime: str) -> None:
    admit({"Runtime": runtime})


@pytest.mark.parametrize("runtime", ["runsc", "kata", "nvidia", "crun", "RUNC"])
def test_other_runtimes_are_refused(runtime: str) -> None:
    denial = refused({"Runtime": runtime})
    assert (denial.rule, denial.setting) == ("runtime", opened("HostConfig.Runtime"))
    assert f"runtime {runtime!r} is not the engine's runc" in denial.reason


@pytest.mark.parametrize("driver", ["json-file", "local", "journald", "none", ""])
def test_local_log_drivers_are_admitted(driver: str) -> None:
    admit({"LogConfig": {"Type": driver, "Config": {}}})


@pytest.mark.parametrize("driver", ["syslog", "fluentd", "gelf", "awslogs", "splunk"])
def test_log_drivers_that_ship_output_elsewhere_are_refused(driver: str) -> None:
    denial = refused({"LogConfig": {"Type": driver, "Config": {}}})
    assert (denial.rule, denial.setting) == ("logconfig", opened("HostConfig.LogConfig"))
    assert f"log driver {driver!r} sends the container's output off this engine" in denial.reason


def test_a_negative_oom_score_adj_is_refused_and_a_positive_one_admitted() -> None:
    denial = refused({"OomScoreAdj": -1000})
    assert (denial.rule, denial.setting) == ("oomscoreadj", opened("HostConfig.OomScoreAdj"))
    assert "oom_score_adj -1000" in denial.reason
    admit({"OomScoreAdj": 1000})


def test_any_cgroup_parent_is_refused_unless_opened() -> None:
    denial = refused({"CgroupParent": "/"})
    assert (denial.rule, denial.setting) == ("cgroupparent", opened("HostConfig.CgroupParent"))
    assert "HostConfig.CgroupParent '/' puts the container in a host cgroup" in denial.reason


def test_storage_opt_size_is_admitted_and_other_options_refused() -> None:
    admit({"StorageOpt": {"size": "20G"}})
    denial = refused({"StorageOpt": {"overlay2.size": "1G", "size": "2G"}})
    assert (denial.rule, denial.setting) == ("storageopt", opened("HostConfig.StorageOpt"))
    assert "storage options overlay2.size are not known here" in denial.reason


def test_cap_add_is_judged_against_the_capability_allowlist() -> None:
    admit({"CapAdd": sorted(f"cap_{c.lower()}" for c in DEFAULT_CAPABILITIES)})
    for cap in ("ALL", "CAP_SYS_ADMIN", "sys_ptrace", "NET_ADMIN", "BPF"):
        denial = refused({"CapAdd": [cap]})
        assert (denial.rule, denial.setting) == ("cap-add", "capability_allowlist")
        assert cap.upper().removeprefix("CAP_") in denial.reason


def test_volumes_from_is_refused() -> None:
    denial = refused({"VolumesFrom": ["db"]})
    assert (denial.rule, denial.setting) == ("volumes-from", "allow_host_namespaces = true")


# --------------------------------------------------------------------------- images


def test_images_outside_the_allowlist_are_refused() -> None:
    policy = Policy(image_allowlist=("busybox:*", "registry.local/*"))
    denial = refused(policy=policy, config={"Image": "alpine:3"})
    assert (denial.rule, denial.setting) == ("image-allowlist", "image_allowlist")
    assert "alpine:3 is not in the allowed images (busybox:*, registry.local/*)" in denial.reason
    admit(policy=policy, config={"Image": "busybox:1.36"})
    admit(policy=policy, config={"Image": "busybox"})  # busybox:latest
    admit(policy=policy, config={"Image": "registry.local/app:2"})


def test_a_swarm_pinned_image_is_judged_by_its_name_and_tag() -> None:
    policy = Policy(image_allowlist=("busybox:*",))
    admit(policy=policy, config={"Image": f"busybox:1.36@{SHA}"})
    admit(policy=policy, config={"Image": f"busybox@{SHA}"})
    denial = refused(policy=policy, config={"Image": f"alpine:3@{SHA}"})
    assert denial.rule == "image-allowlist"
    assert "alpine:3 is not in the allowed images" in denial.reason


def test_an_allowlist_of_digests_admits_exactly_those_digests() -> None:
    policy = Policy(image_allowlist=(f"busybox@{SHA}", f"busybox:*@{SHA}"))
    admit(policy=policy, config={"Image": f"busybox@{SHA}"})
    admit(policy=policy, config={"Image": f"busybox:1.36@{SHA}"})
    other = "sha256:" + "cd" * 32
    assert refused(policy=policy, config={"Image": f"busybox@{other}"}).rule == "image-allowlist"


def test_images_built_by_this_call_bypass_the_allowlist() -> None:
    policy = Policy(image_allowlist=("busybox:*",))
    admit(policy=policy, config={"Image": "proj-web"}, built_images=frozenset({"proj-web"}))
    assert refused(policy=policy, config={"Image": "proj-web"}).rule == "image-allowlist"


def test_require_digest_refuses_tags_and_admits_digests() -> None:
    policy = Policy(require_digest=True)
    denial = refused(policy=policy, config={"Image": "busybox:1.36"})
    assert (denial.rule, denial.setting) == ("require-digest", "require_digest = false")
    assert "busybox:1.36 is named by tag" in denial.reason
    admit(policy=policy, config={"Image": f"busybox:1.36@{SHA}"})
    admit(policy=policy, config={"Image": SHA})


def test_a_container_without_an_image_field_is_judged_on_the_rest() -> None:
    admit(config={}, policy=Policy(image_allowlist=("busybox:*",), require_digest=True))


# --------------------------------------------------------------------------- swarm task templates


def template(spec: Mapping[str, Any] | None = None, /, **task: Any) -> dict[str, Any]:
    return {
        "ContainerSpec": {"Image": f"busybox:1.36@{SHA}", "Command": ["sleep", "1d"], **(spec or {})},
        "Resources": {"Limits": {"MemoryBytes": 1 << 28}},
        "RestartPolicy": {"Condition": "any"},
        "Placement": {"Constraints": ["node.role==worker"]},
        "ForceUpdate": 0,
        "Runtime": "container",
        **task,
    }


def refuse_service(
    task: Mapping[str, Any],
    policy: Policy = POLICY,
    networks: tuple[str, ...] = (),
    volumes: Mapping[str, VolumeInfo] | None = None,
) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as caught:
        judge_task_template(policy, "api", task, networks, volumes or {}, lexical_resolver)
    assert caught.value.reason.startswith("service api: ")
    return caught.value


def admit_service(task: Mapping[str, Any], policy: Policy = POLICY, networks: tuple[str, ...] = ()) -> None:
    judge_task_template(policy, "api", task, networks, {}, lexical_resolver)


def test_a_normal_service_is_admitted() -> None:
    spec = {
        "Labels": {"a": "b"},
        "Args": ["-v"],
        "Env": ["A=1"],
        "Dir": "/app",
        "User": "1000",
        "Groups": ["audio"],
        "Hostname": "api",
        "Init": True,
        "TTY": False,
        "ReadOnly": True,
        "StopGracePeriod": 10_000_000_000,
        "Healthcheck": {"Test": ["CMD", "true"]},
        "Secrets": [{"SecretName": "s", "File": {"Name": "s"}}],
        "Configs": [{"ConfigName": "c", "File": {"Name": "c"}}],
        "CapabilityDrop": ["ALL"],
        "CapabilityAdd": ["NET_BIND_SERVICE"],
        "Privileges": {"NoNewPrivileges": True, "Seccomp": {"Mode": "default"},
                       "AppArmor": {"Mode": "default"}, "SELinuxContext": {"Level": "s0:c1,c2"}},
        "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data"}],
        "Sysctls": {"net.ipv4.tcp_syncookies": "1"},
        "OomScoreAdj": 100,
    }  # fmt: skip
    admit_service(template(spec, LogDriver={"Name": "json-file"}), networks=("backend",))


@pytest.mark.parametrize(
    ("privileges", "option"),
    [
        ({"Seccomp": {"Mode": "unconfined"}}, "seccomp=unconfined"),
        ({"Seccomp": {"Mode": "custom", "Profile": "e30="}}, "seccomp=custom"),
        ({"AppArmor": {"Mode": "disabled"}}, "apparmor=unconfined"),
        ({"SELinuxContext": {"Disable": True}}, "label=disable"),
        ({"SELinuxContext": {"Type": "spc_t"}}, "label=type:spc_t"),
        ({"SELinuxContext": {"User": "system_u"}}, "label=user:system_u"),
    ],
)
def test_service_privileges_that_lift_a_confinement_are_refused(
    privileges: dict[str, Any], option: str
) -> None:
    denial = refuse_service(template({"Privileges": privileges}))
    assert (denial.rule, denial.setting) == ("unconfined", "allow_unconfined = true")
    assert f"security_opt {option!r}" in denial.reason
    admit_service(template({"Privileges": privileges}), Policy(allow_unconfined=True))


def test_service_credential_spec_is_refused_as_unknown() -> None:
    denial = refuse_service(template({"Privileges": {"CredentialSpec": {"File": "spec.json"}}}))
    assert (denial.rule, denial.setting) == ("unknown-field", opened("Privileges.CredentialSpec"))
    assert "Privileges.CredentialSpec is set" in denial.reason


def test_service_capability_add_outside_the_allowlist_is_refused() -> None:
    denial = refuse_service(template({"CapabilityAdd": ["CAP_SYS_ADMIN"]}))
    assert (denial.rule, denial.setting) == ("cap-add", "capability_allowlist")
    assert "capabilities SYS_ADMIN" in denial.reason


def test_service_bind_mount_of_etc_is_refused() -> None:
    denial = refuse_service(template({"Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/x"}]}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert "bind source /etc" in denial.reason


def test_service_volume_mount_of_a_volume_binding_etc_is_refused() -> None:
    task = template({"Mounts": [{"Type": "volume", "Source": "sneaky", "Target": "/x"}]})
    denial = refuse_service(task, volumes={"sneaky": VolumeInfo("local", BIND_ETC)})
    assert denial.rule == "sensitive-bind"
    assert "volume sneaky bind device /etc" in denial.reason


def test_service_on_the_network_named_host_is_refused() -> None:
    denial = refuse_service(template(), networks=("backend", "host"))
    assert (denial.rule, denial.setting) == ("host-network", "allow_host_namespaces = true")
    assert "network mode 'host'" in denial.reason


@pytest.mark.parametrize(
    ("key", "value", "rule", "words", "setting"),
    [
        ("Sysctls", {"kernel.core_pattern": "|/x"}, "sysctls", "sysctls kernel.core_pattern",
         opened("HostConfig.Sysctls")),
        ("OomScoreAdj", -900, "oomscoreadj", "oom_score_adj -900", opened("HostConfig.OomScoreAdj")),
        ("Isolation", "hyperv", "isolation", "isolation 'hyperv'", opened("HostConfig.Isolation")),
    ],
)  # fmt: skip
def test_service_fields_mapped_onto_container_fields_are_judged(
    key: str, value: object, rule: str, words: str, setting: str
) -> None:
    denial = refuse_service(template({key: value}))
    assert (denial.rule, denial.setting) == (rule, setting)
    assert words in denial.reason


def test_service_log_driver_is_judged_as_a_log_config() -> None:
    denial = refuse_service(template(LogDriver={"Name": "gelf", "Options": {}}))
    assert (denial.rule, denial.setting) == ("logconfig", opened("HostConfig.LogConfig"))
    assert "log driver 'gelf'" in denial.reason


def test_an_unknown_container_spec_key_is_refused_naming_it() -> None:
    denial = refuse_service(template({"NewIsolationKnob": "off"}))
    assert (denial.rule, denial.setting) == ("unknown-field", opened("ContainerSpec.NewIsolationKnob"))
    assert "ContainerSpec.NewIsolationKnob is set" in denial.reason
    policy = Policy(allow_container_fields=("ContainerSpec.NewIsolationKnob",))
    admit_service(template({"NewIsolationKnob": "off"}), policy)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PluginSpec", {"Name": "vieux/sshfs", "Remote": "vieux/sshfs"}),
        ("NetworkAttachmentSpec", {"ContainerID": "abc"}),
        ("Runtime", "plugin"),
    ],
)
def test_an_unknown_task_template_key_is_refused_naming_it(key: str, value: object) -> None:
    denial = refuse_service(template(**{key: value}))
    assert (denial.rule, denial.setting) == ("unknown-field", opened(f"TaskTemplate.{key}"))
    assert f"TaskTemplate.{key} is set" in denial.reason


def test_a_service_image_is_judged_by_the_allowlist_and_digest_rule() -> None:
    policy = Policy(image_allowlist=("busybox:*",))
    admit_service(template(), policy)
    denial = refuse_service(template({"Image": f"alpine:3@{SHA}"}), policy)
    assert denial.rule == "image-allowlist"
    assert "alpine:3 is not in the allowed images" in denial.reason
    pinned = Policy(image_allowlist=("busybox:*",), require_digest=True)
    admit_service(template(), pinned)
    denial = refuse_service(template({"Image": "busybox:1.36"}), pinned)
    assert (denial.rule, denial.setting) == ("require-digest", "require_digest = false")


def test_a_service_message_names_the_service_not_a_container() -> None:
    denial = refuse_service(template({"CapabilityAdd": ["SYS_ADMIN"]}))
    assert "container api" not in str(denial)
    assert str(denial).startswith("Denied by policy rule 'cap-add': service api: ")


def test_a_service_image_matches_an_allowlist_entry_that_names_its_digest() -> None:
    admit_service(template(), Policy(image_allowlist=(f"busybox:1.36@{SHA}",)))
    other = "sha256:" + "cd" * 32
    denial = refuse_service(
        template({"Image": f"busybox:1.36@{other}"}), Policy(image_allowlist=(f"busybox:1.36@{SHA}",))
    )
    assert denial.rule == "image-allowlist"


# A swarm task's container as Docker Engine 20.10 (API 1.41, cgroup v1) reports it in an inspect.
INSPECT_20_10_HOST_CONFIG: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default",
    "PortBindings": {},
    "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "CapAdd": None,
    "CapDrop": None,
    "CgroupnsMode": "host",
    "Dns": None,
    "DnsOptions": None,
    "DnsSearch": None,
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 67108864,
    "Runtime": "runc",
    "ConsoleSize": [0, 0],
    "Isolation": "default",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "BlkioWeightDevice": None,
    "BlkioDeviceReadBps": None,
    "BlkioDeviceWriteBps": None,
    "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteIOps": None,
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": None,
    "DeviceCgroupRules": None,
    "DeviceRequests": None,
    "KernelMemory": 0,
    "KernelMemoryTCP": 0,
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "MemorySwappiness": None,
    "OomKillDisable": False,
    "PidsLimit": None,
    "Ulimits": [],
    "CpuCount": 0,
    "CpuPercent": 0,
    "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "MaskedPaths": [
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
    ],
    "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
}
INSPECT_20_10_CONFIG: dict[str, Any] = {
    "Hostname": "9d0b6c9a0cb2",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": ["PATH=/bin"],
    "Cmd": ["sleep", "30"],
    "Image": "busybox:local",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": {"com.docker.stack.namespace": "proj"},
}


def test_a_default_container_as_engine_20_10_reports_it_is_admitted() -> None:
    admit(
        INSPECT_20_10_HOST_CONFIG,
        config=INSPECT_20_10_CONFIG,
        networks={"proj_default": {}},
        cgroup_version="1",
    )
    # The same on a cgroup v2 engine, whose default cgroupns mode is private.
    admit({**INSPECT_20_10_HOST_CONFIG, "CgroupnsMode": "private"}, config=INSPECT_20_10_CONFIG)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"Privileged": True}, "privileged"),
        ({"CapAdd": ["SYS_ADMIN"]}, "cap-add"),
        ({"MaskedPaths": [], "ReadonlyPaths": []}, "unconfined"),
        ({"SecurityOpt": ["apparmor=unconfined"]}, "unconfined"),
        ({"NetworkMode": "host"}, "host-network"),
        ({"Binds": ["/var/run/docker.sock:/var/run/docker.sock"]}, "socket-bind"),
        ({"DeviceCgroupRules": ["a *:* rwm"]}, "devices"),
    ],
)
def test_one_change_to_that_inspect_is_enough_to_refuse_it(change: dict[str, Any], rule: str) -> None:
    host = {**INSPECT_20_10_HOST_CONFIG, **change}
    assert refused(host, config=INSPECT_20_10_CONFIG, cgroup_version="1").rule == rule


def test_a_service_as_the_swarm_stores_it_with_its_zero_values_is_admitted() -> None:
    stored = {
        "ContainerSpec": {
            "Image": f"busybox:1.36@{SHA}",
            "Labels": {"com.docker.stack.namespace": "proj"},
            "Args": ["sleep", "1d"],
            "Init": False,
            "Privileges": {"CredentialSpec": None, "SELinuxContext": None, "NoNewPrivileges": False},
            "StopGracePeriod": 10_000_000_000,
            "DNSConfig": {},
            "Isolation": "default",
            "Mounts": [],
        },
        "Resources": {"Limits": {}, "Reservations": {}},
        "RestartPolicy": {"Condition": "any", "Delay": 5_000_000_000, "MaxAttempts": 0},
        "Placement": {"Platforms": [{"Architecture": "amd64", "OS": "linux"}]},
        "Networks": [{"Target": "k0x8yyn2v3d5", "Aliases": ["app"]}],
        "LogDriver": None,
        "ForceUpdate": 0,
        "Runtime": "container",
    }
    admit_service(stored, networks=("proj_default",))
