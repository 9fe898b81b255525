"""Tool arguments to engine-neutral specs: the docker CLI's shapes, and clear errors."""

from __future__ import annotations

import pytest

from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.specs.containers import (
    GpuRequest,
    Healthcheck,
    MountSpec,
    PortBinding,
    RestartPolicy,
    parse_command,
    parse_gpus,
    parse_healthcheck,
    parse_memory,
    parse_ports,
    parse_restart_policy,
    parse_volumes,
    validate_name,
)
from mcp_docker_server.specs.images import validate_image_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "ref",
    [
        "busybox",
        "busybox:1.36",
        "localhost:5000/a/b:v1",
        "ghcr.io/org/app:v1.2.0",
        f"app@{DIGEST}",
        "a5073919cfa9",
        DIGEST,
        "pytorch/pytorch:1.12.0-cuda11.3-cudnn8-runtime",
    ],
)
def test_valid_image_references(ref: str) -> None:
    assert validate_image_reference(ref) == ref


@pytest.mark.parametrize("ref", ["Bad Image", "-rm", "a:b:c", "", "UPPER:1", "app:tag with space"])
def test_invalid_image_references(ref: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid image reference"):
        validate_image_reference(ref)


def test_upper_case_repository_gets_a_specific_hint() -> None:
    with pytest.raises(InvalidArgument, match="lower-case"):
        validate_image_reference("MyApp:1")


def test_names_follow_the_engine_rule() -> None:
    assert validate_name("web_1.a-b") == "web_1.a-b"
    with pytest.raises(InvalidArgument):
        validate_name("-web")


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("python train.py --epochs 100", ("python", "train.py", "--epochs", "100")),
        ("sh -c 'echo $HOME; id'", ("sh", "-c", "echo $HOME; id")),
        ("echo $(id) ; touch /x", ("echo", "$(id)", ";", "touch", "/x")),
        (["echo", "a b"], ("echo", "a b")),
    ],
)
def test_commands_split_like_a_shell_never_run_by_one(
    command: str | list[str], argv: tuple[str, ...]
) -> None:
    assert parse_command(command) == argv


@pytest.mark.parametrize("command", ["echo 'unbalanced", "", [], ["a\x00b"]])
def test_bad_commands_are_refused(command: str | list[str]) -> None:
    with pytest.raises(InvalidArgument):
        parse_command(command)


def test_port_shapes_of_the_docker_cli() -> None:
    parsed = parse_ports(
        {
            "8080/tcp": 8080,
            "443": "127.0.0.2:8443",
            "53/udp": [5353, None],
            "9000": "[::1]:9001",
            "81": "0.0.0.0:",
        },
        "127.0.0.1",
    )
    assert parsed == (
        PortBinding(8080, "tcp", "127.0.0.1", 8080),
        PortBinding(443, "tcp", "127.0.0.2", 8443),
        PortBinding(53, "udp", "127.0.0.1", 5353),
        PortBinding(53, "udp", "127.0.0.1", None),
        PortBinding(9000, "tcp", "::1", 9001),
        PortBinding(81, "tcp", "0.0.0.0", None),
    )


@pytest.mark.parametrize(
    "ports", [{"80/xyz": 1}, {"0": 1}, {"80": 70000}, {"80": "abc"}, {"80": []}, {"80": True}, {"x": 1}]
)
def test_bad_ports_are_refused(ports: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        parse_ports(ports, "127.0.0.1")


def test_volume_shapes() -> None:
    parsed = parse_volumes(
        [
            {"host_path": "/data/training", "container_path": "/workspace/data", "mode": "ro"},
            {"host_path": "/models/output", "container_path": "/workspace/models", "mode": "rw"},
            {"host_path": "cache", "container_path": "/cache"},
            {"volume": "db", "container_path": "/var/lib/db", "mode": "ro"},
            {"type": "tmpfs", "container_path": "/tmp"},
            "/srv:/srv:ro,rslave",
            "named:/n",
        ]
    )
    assert parsed == (
        MountSpec("bind", "/data/training", "/workspace/data", True),
        MountSpec("bind", "/models/output", "/workspace/models", False),
        MountSpec("volume", "cache", "/cache", False),
        MountSpec("volume", "db", "/var/lib/db", True),
        MountSpec("tmpfs", "", "/tmp", False),
        MountSpec("bind", "/srv", "/srv", True, "rslave"),
        MountSpec("volume", "named", "/n", False),
    )


@pytest.mark.parametrize(
    "volume",
    [
        {"host_path": "./rel", "container_path": "/x"},
        {"host_path": "/abs", "container_path": "rel"},
        {"host_path": "/abs", "container_path": "/x", "mode": "rwx"},
        {"host_path": "bad name!", "container_path": "/x"},
        "a:b:c:d",
    ],
)
def test_bad_volumes_are_refused(volume: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_volumes([volume])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("value", "size"),
    [("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1.5GiB", int(1.5 * 2**30)), (2**27, 2**27)],
)
def test_memory_sizes(value: str | int, size: int) -> None:
    assert parse_memory(value) == size


@pytest.mark.parametrize("value", ["1k", "lots", 1024])
def test_bad_memory_sizes(value: str | int) -> None:
    with pytest.raises(InvalidArgument):
        parse_memory(value)


def test_restart_policies() -> None:
    assert parse_restart_policy("on-failure:3") == RestartPolicy("on-failure", 3)
    assert parse_restart_policy("unless-stopped") == RestartPolicy("unless-stopped")
    with pytest.raises(InvalidArgument):
        parse_restart_policy("always:3")


def test_healthchecks() -> None:
    assert parse_healthcheck({"test": "curl -f localhost", "interval": 5}) == Healthcheck(
        ("CMD-SHELL", "curl -f localhost"), interval=5.0
    )
    assert parse_healthcheck({"test": ["wget", "-q", "x"]}) == Healthcheck(("CMD", "wget", "-q", "x"))
    assert parse_healthcheck({"test": "NONE"}) == Healthcheck(("NONE",))
    with pytest.raises(InvalidArgument):
        parse_healthcheck({"interval": 5})


def test_gpu_requests() -> None:
    assert parse_gpus("all") == GpuRequest(count=-1)
    assert parse_gpus(2) == GpuRequest(count=2)
    assert parse_gpus(["0", "1"]) == GpuRequest(device_ids=("0", "1"))
    with pytest.raises(InvalidArgument):
        parse_gpus("some")
