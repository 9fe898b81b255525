"""The denial matrix: every rule, through every entry point, with the spelling evasions.
Each case asserts the denial names its rule and that nothing was created."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL_KEY, RUN_ID, error_text, labelled

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SENSITIVE = [
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/usr",
    "/lib",
    "/var/run",
    "/run",
    "/root",
    "/var/lib/docker",
    "/var",
]
# Spellings that must not get past the resolved-path check.
EVASIONS = ["{p}", "{p}/", "/{p}", "/tmp/..{p}", "{p}/./", "{p_upper}"]
SOCKETS = [
    "/var/run/docker.sock",
    "//var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/../run/docker.sock",
]
CREDENTIALS = [
    "/home/dev/.ssh",
    "/home/dev/.docker/config.json",
    "/home/dev/.kube",
    "/home/dev/.aws/credentials",
]


def sensitive_cases() -> list[tuple[str, str]]:
    cases = []
    for path in SENSITIVE:
        for pattern in EVASIONS:
            spelled = pattern.format(p="" if path == "/" else path, p_upper=path.upper())
            if not spelled or spelled == "/tmp/..":
                spelled = "/tmp/.." if pattern.startswith("/tmp") else "/"
            cases.append((spelled, "sensitive-bind"))
    return sorted(set(cases))


RUN_CASES: list[tuple[dict[str, Any], str]] = [
    ({"privileged": True}, "privileged"),
    ({"network": "host"}, "host-network"),
    ({"network": "Host"}, "host-network"),
    ({"network": "container:someone"}, "shared-network"),
    ({"cap_add": ["SYS_ADMIN"]}, "cap-add"),
    ({"cap_add": ["ALL"]}, "cap-add"),
    ({"cap_add": ["cap_sys_module"]}, "cap-add"),
    ({"cap_add": ["NET_ADMIN"]}, "cap-add"),
    ({"cap_add": ["SYS_PTRACE"]}, "cap-add"),
    *[({"volumes": [f"{path}:/x:ro"]}, rule) for path, rule in sensitive_cases()],
    *[({"volumes": [{"host_path": path, "container_path": "/s"}]}, "socket-bind") for path in SOCKETS],
    *[
        ({"volumes": [{"host_path": path, "container_path": "/c"}]}, "credential-bind")
        for path in CREDENTIALS
    ],
    (
        {"volumes": [{"host_path": "/srv/data", "container_path": "/d", "mode": "rshared"}]},
        "mount-propagation",
    ),
    (
        {"volumes": [{"host_path": "/srv/data", "container_path": "/d", "mode": "ro,shared"}]},
        "mount-propagation",
    ),
]


@pytest.mark.parametrize(("args", "rule"), RUN_CASES)
async def test_run_container_denials(
    client: Client, test_image: str, docker_client: docker.DockerClient, args: dict[str, Any], rule: str
) -> None:
    call = {"image": test_image, "labels": {LABEL_KEY: RUN_ID}, "command": ["true"], **args}
    text = error_text(await client.call_tool("run-container", call))
    assert f"policy rule '{rule}'" in text
    assert "Only the operator can allow this" in text
    assert labelled(docker_client) == []


COMPOSE_CASES: list[tuple[str, str]] = [
    ("privileged: true", "privileged"),
    ("network_mode: host", "host-network"),
    ("network_mode: 'service:other'", "shared-network"),
    ("pid: host", "host-pid"),
    ("ipc: host", "host-ipc"),
    ("uts: host", "host-uts"),
    ("userns_mode: host", "host-userns"),
    ("cap_add: [SYS_ADMIN]", "cap-add"),
    ("cap_add: [ALL]", "cap-add"),
    ("security_opt: ['seccomp=unconfined']", "unconfined"),
    ("security_opt: ['apparmor=unconfined']", "unconfined"),
    ("security_opt: ['label=disable']", "unconfined"),
    ("devices: ['/dev/mem:/dev/mem']", "devices"),
    ("volumes: ['/var/run/docker.sock:/var/run/docker.sock']", "socket-bind"),
    ("volumes: ['/:/host']", "sensitive-bind"),
    ("volumes: ['/etc:/e:ro']", "sensitive-bind"),
    ("volumes: ['/proc:/p']", "sensitive-bind"),
    ("volumes: ['/root/.ssh:/k:ro']", "sensitive-bind"),
    ("volumes: [{type: bind, source: /sys, target: /s}]", "sensitive-bind"),
    ("volumes_from: [other]", "volumes-from"),
]


@pytest.mark.parametrize(("service", "rule"), COMPOSE_CASES)
async def test_compose_denials(
    client: Client,
    test_image: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    service: str,
    rule: str,
) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              app:
                image: {test_image}
                labels:
                  {LABEL_KEY}: "{RUN_ID}"
                {service}
              other:
                image: {test_image}
                labels:
                  {LABEL_KEY}: "{RUN_ID}"
            """
        )
    )
    text = error_text(
        await client.call_tool(
            "compose-stack", {"compose_file": str(file), "action": "up", "project_name": "mcpd-matrix"}
        )
    )
    assert f"policy rule '{rule}'" in text
    assert "service app" in text
    assert "Only the operator can allow this" in text
    assert labelled(docker_client) == []


@pytest.mark.parametrize(
    "device", ["/", "/etc", "//etc/", "/var/run", "/tmp/../boot", "/root/.ssh", "/run/docker.sock"]
)
async def test_bind_volume_denials(client: Client, device: str, docker_client: docker.DockerClient) -> None:
    name = f"mcpd-matrix-{abs(hash(device))}"
    text = error_text(
        await client.call_tool(
            "volume-management",
            {"name": name, "action": "create", "options": {"type": "none", "o": "bind", "device": device}},
        )
    )
    assert "policy rule '" in text
    assert not [v for v in docker_client.volumes.list() if v.name == name]
