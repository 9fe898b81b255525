"""The policy guard's rules, pure: no engine involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import (
    Admitted,
    Policy,
    admit_container,
    admit_exec,
    admit_volume,
    lexical_resolver,
)
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec, MountSpec
from mcp_docker_server.specs.volumes import VolumeSpec
from mcp_docker_server.state import local_resolver

POLICY = Policy()


def bind(source: str) -> ContainerSpec:
    return ContainerSpec(image="busybox", mounts=(MountSpec("bind", source, "/x"),))


def denied_rule(spec: ContainerSpec, policy: Policy = POLICY, **volume_options: dict[str, str]) -> str:
    with pytest.raises(PolicyDenied) as caught:
        admit_container(policy, spec, local_resolver, volume_options)
    return caught.value.rule


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (ContainerSpec(image="b", privileged=True), "privileged"),
        (ContainerSpec(image="b", network="host"), "host-network"),
        (ContainerSpec(image="b", network="HOST"), "host-network"),
        (ContainerSpec(image="b", network="container:db"), "shared-network"),
        (ContainerSpec(image="b", pid_mode="host"), "host-pid"),
        (ContainerSpec(image="b", ipc_mode="host"), "host-ipc"),
        (ContainerSpec(image="b", uts_mode="host"), "host-uts"),
        (ContainerSpec(image="b", userns_mode="host"), "host-userns"),
        (ContainerSpec(image="b", devices=("/dev/sda:/dev/sda",)), "devices"),
        (ContainerSpec(image="b", cap_add=("SYS_ADMIN",)), "cap-add"),
        (ContainerSpec(image="b", cap_add=("ALL",)), "cap-add"),
        (ContainerSpec(image="b", cap_add=("CAP_SYS_PTRACE",)), "cap-add"),
        (ContainerSpec(image="b", security_opt=("seccomp=unconfined",)), "unconfined"),
        (ContainerSpec(image="b", security_opt=("apparmor=unconfined",)), "unconfined"),
        (ContainerSpec(image="b", security_opt=("label=disable",)), "unconfined"),
        (ContainerSpec(image="b", volumes_from=("other",)), "volumes-from"),
        (
            ContainerSpec(image="b", mounts=(MountSpec("volume", "data", "/d", propagation="rshared"),)),
            "mount-propagation",
        ),
    ],
)
def test_dangerous_settings_are_denied_by_default(spec: ContainerSpec, rule: str) -> None:
    assert denied_rule(spec) == rule


@pytest.mark.parametrize(
    "source",
    [
        "/",
        "/etc",
        "/etc/",
        "/etc/passwd",
        "//etc",
        "/tmp/../etc",
        "/ETC",
        "/proc",
        "/sys",
        "/dev",
        "/boot",
        "/usr",
        "/var/run",
        "/run",
        "/var",
        "/root/.ssh",
        "/home/u/.ssh",
        "/home/u/.aws/credentials",
    ],
)
def test_sensitive_host_paths_cannot_be_bound(source: str) -> None:
    assert denied_rule(bind(source)) in {"sensitive-bind", "credential-bind", "socket-bind"}


@pytest.mark.parametrize(
    "source", ["/var/run/docker.sock", "//var/run//docker.sock", "/tmp/x/containerd.sock"]
)
def test_sockets_cannot_be_bound(source: str) -> None:
    assert denied_rule(bind(source)) == "socket-bind"


def test_a_symlink_to_etc_is_judged_by_its_target(tmp_path: Path) -> None:
    link = tmp_path / "looks-harmless"
    link.symlink_to("/etc")
    with pytest.raises(PolicyDenied, match="resolves to /etc"):
        admit_container(POLICY, bind(str(link)), local_resolver)


def test_a_real_socket_file_is_denied_whatever_its_name(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "innocent"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert denied_rule(bind(str(path))) == "socket-bind"


def test_plain_folders_and_named_volumes_are_admitted(tmp_path: Path) -> None:
    spec = ContainerSpec(
        image="b",
        mounts=(MountSpec("bind", str(tmp_path), "/w"), MountSpec("volume", "cache", "/c")),
        cap_add=("NET_BIND_SERVICE",),
        network="my-net",
        security_opt=("no-new-privileges",),
    )
    admitted = admit_container(POLICY, spec, local_resolver)
    assert admitted.unwrap() == spec  # it already asks for no-new-privileges, the one injected default


def test_an_existing_volume_with_bind_options_is_judged_as_a_bind() -> None:
    spec = ContainerSpec(image="b", mounts=(MountSpec("volume", "sneaky", "/x"),))
    assert denied_rule(spec, sneaky={"type": "none", "o": "bind", "device": "/etc"}) == "sensitive-bind"
    admit_container(POLICY, spec, local_resolver, {"sneaky": {"type": "tmpfs", "device": "tmpfs"}})


def test_volume_creation_with_bind_options_is_judged_as_a_bind(tmp_path: Path) -> None:
    with pytest.raises(PolicyDenied) as caught:
        admit_volume(
            POLICY, VolumeSpec("v", driver_opts={"type": "none", "o": "bind", "device": "/"}), local_resolver
        )
    assert caught.value.rule == "sensitive-bind"
    ok = VolumeSpec("v", driver_opts={"type": "none", "o": "bind", "device": str(tmp_path)})
    with pytest.raises(PolicyDenied) as caught:  # a plain folder still needs the operator's key
        admit_volume(POLICY, ok, local_resolver)
    assert caught.value.rule == "volume-mount"
    allowed = Policy(allow_volume_mounts=True)
    assert admit_volume(allowed, ok, local_resolver).unwrap() == ok


@pytest.mark.parametrize(
    "options",
    [
        {"type": "none", "o": "bind", "device": "etc"},
        {"type": "none", "o": "bind", "device": "./shared/data"},
        {"type": "overlay", "o": "lowerdir=etc,upperdir=/tmp/u,workdir=/tmp/w"},
    ],
)
def test_a_relative_volume_folder_is_refused(options: dict[str, str]) -> None:
    # The engine resolves it from its own working folder (often /), not this server's.
    with pytest.raises(PolicyDenied, match="relative path") as caught:
        admit_volume(Policy(allow_volume_mounts=True), VolumeSpec("v", driver_opts=options), local_resolver)
    assert caught.value.rule == "host-path"


def test_operator_flags_widen_exactly_what_they_name() -> None:
    relaxed = Policy(allow_privileged=True)
    admit_container(relaxed, ContainerSpec(image="b", privileged=True), local_resolver)
    assert denied_rule(ContainerSpec(image="b", network="host"), relaxed) == "host-network"
    admit_container(
        Policy(allow_host_namespaces=True), ContainerSpec(image="b", pid_mode="host"), local_resolver
    )


def test_bind_roots_confine_host_paths(tmp_path: Path) -> None:
    confined = Policy(allowed_bind_roots=(str(tmp_path),))
    admit_container(confined, bind(str(tmp_path / "project")), local_resolver)
    assert denied_rule(bind("/srv/data"), confined) == "bind-root"


def test_denials_name_the_rule_and_the_next_step() -> None:
    with pytest.raises(PolicyDenied) as caught:
        admit_container(POLICY, ContainerSpec(image="b", privileged=True), local_resolver)
    assert str(caught.value).startswith("Denied by policy rule 'privileged'")
    assert "Next:" in str(caught.value)


def test_only_the_guard_can_seal_a_request() -> None:
    spec = ContainerSpec(image="b")
    forged = Admitted(spec, object())
    with pytest.raises(RuntimeError, match="policy guard"):
        forged.unwrap()


def test_root_exec_rule_follows_the_containers_own_user() -> None:
    strict = Policy(allow_root_exec=False)
    with pytest.raises(PolicyDenied, match="root-exec"):
        admit_exec(strict, ExecSpec(container="c", command=("sh",)), default_user="")
    admit_exec(strict, ExecSpec(container="c", command=("sh",)), default_user="1000:1000")
    with pytest.raises(PolicyDenied, match="root-exec"):
        admit_exec(strict, ExecSpec(container="c", command=("sh",), user="root"), default_user="1000")
    admit_exec(Policy(), ExecSpec(container="c", command=("sh",)), default_user="")


def test_privileged_exec_is_denied() -> None:
    with pytest.raises(PolicyDenied):
        admit_exec(POLICY, ExecSpec(container="c", command=("sh",), privileged=True))
    assert admit_exec(POLICY, ExecSpec(container="c", command=("sh",))).unwrap().command == ("sh",)


def test_remote_engines_get_lexical_resolution() -> None:
    info = lexical_resolver("/srv/../etc//")
    assert info.real_path == "/etc"
    assert lexical_resolver("/x/docker.sock").is_socket


def test_policy_file_sections_aliases_and_env_overrides(tmp_path: Path) -> None:
    from mcp_docker_server.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(
        '[exposure]\ndeny_tools = ["exec-container"]\nconfirm = "client-approval"\n'
        '[containers]\nallow_privileged = true\ncapability_allowlist = ["net_admin"]\n'
        'image_allowlist = ["busybox:*"]\n[defaults]\ndefault_memory = "256m"\ndefault_cpus = 1.5\n'
    )
    policy = load_policy(str(path), {"MCP_DOCKER_READ_ONLY": "1"})
    assert policy.deny_tools == ("exec-container",)
    assert policy.confirm == "client-approval"
    assert policy.allow_privileged
    assert policy.capability_allowlist == frozenset({"NET_ADMIN"})
    assert policy.default_memory_bytes == 256 * 1024 * 1024
    assert policy.default_nano_cpus == 1_500_000_000
    assert policy.read_only
    assert load_policy(None, {}) == Policy()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("allow_privilegd = true\n", "unknown key 'allow_privilegd'"),
        ('allow_privileged = "yes"\n', "must be true or false"),
        ("deny_tools = 3\n", "must be a list of strings"),
        ('confirm = "sometimes"\n', "not a confirmation mode"),
        ('default_memory = "lots"\n', "bytes or a size"),
        ("[broken\n", "not valid TOML"),
    ],
)
def test_policy_file_mistakes_stop_startup(tmp_path: Path, body: str, message: str) -> None:
    from mcp_docker_server.errors import ConfigError
    from mcp_docker_server.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_policy(str(path), {})


def test_image_allowlist_globs() -> None:
    from mcp_docker_server.policy import check_image

    policy = Policy(image_allowlist=("127.0.0.1:5000/*", "busybox:*"))
    check_image(policy, "busybox")
    check_image(policy, "127.0.0.1:5000/team/app:v2")
    with pytest.raises(PolicyDenied, match="image-allowlist"):
        check_image(policy, "alpine:3.20")
