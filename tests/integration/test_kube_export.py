"""kubernetes-export through the real server and MCP client, and the exported manifests played
for real with Podman (`podman kube play`; Debian's podman 4.3, set up by
scripts/test-podman.sh up): the web service answers on its port, the worker's volume holds
what it wrote, the healthcheck became a probe that passes. No cluster runs here.

Podman 4.3 plays Pods, Deployments and PersistentVolumeClaims. Two kinds of the export it
ignores are handed to it in the form it reads, by :func:`for_podman`, and nothing else is
changed: a StatefulSet's pod template is played as a Deployment's, and a Service's port is
published on 127.0.0.1 as a hostPort of the container port it targets. The workloads' names
get the project's prefix, so that parallel runs do not collide and scripts/test-podman.sh down
finds whatever a killed run left.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = f"mcpd-kube-{RUN_ID}"

COMPOSE = """\
name: {project}
services:
  web:
    image: {image}
    command:
      - sh
      - -c
      - mkdir -p /tmp/www && echo hello-kube > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www
    ports: ["127.0.0.1:{port}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 2s
      timeout: 2s
      retries: 3
    cpus: 0.5
    mem_limit: 64m
  worker:
    image: {image}
    command: ["sh", "-c", "echo from-worker > /data/mark && exec sleep 600"]
    depends_on: [web]
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""


def podman_env() -> dict[str, str]:
    """The environment podman runs in: the tests' settings (scripts/test-podman.sh up writes them)."""
    conf = Path(os.environ.get("MCPD_TEST_STATE", ROOT / ".test-engine")) / "podman" / "containers.conf"
    if not conf.is_file():
        pytest.fail(f"{conf} is missing: run scripts/test-podman.sh up")
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman_binary() -> str:
    binary = shutil.which("podman")
    if binary is None:
        pytest.fail("podman is not installed: scripts/test-podman.sh up installs it (Debian's podman)")
    return binary


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Podman with the tests' settings; a failure fails the test with podman's words."""
    done = subprocess.run(
        [podman_binary(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=podman_env(),
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def for_podman(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The export in the kinds podman 4.3 plays (see the module docstring)."""
    docs = copy.deepcopy(docs)
    published = {d["metadata"]["name"]: d["spec"]["ports"] for d in docs if d["kind"] == "Service"}
    played = []
    for doc in docs:
        if doc["kind"] == "Service":
            continue
        if doc["kind"] == "StatefulSet":
            doc["kind"] = "Deployment"
            doc["spec"].pop("serviceName", None)
        if doc["kind"] == "Deployment":
            name = doc["metadata"]["name"]
            doc["metadata"]["name"] = f"{PROJECT}-{name}"
            for container in doc["spec"]["template"]["spec"]["containers"]:
                for service_port in published.get(name, []):
                    for port in container.get("ports", []):
                        if port["containerPort"] == service_port["targetPort"]:
                            port.update(hostPort=service_port["port"], hostIP="127.0.0.1")
        played.append(doc)
    return played


@pytest.fixture
def project_dir(tmp_path: Path, test_image: str) -> Path:
    (tmp_path / "compose.yaml").write_text(
        COMPOSE.format(project=PROJECT, image=test_image, port=free_port())
    )
    return tmp_path


@pytest.fixture
def podman_image(test_image: str) -> str:
    """The engine's test image, copied into podman's own storage (no registry exists here)."""
    if podman("image", "exists", test_image, check=False).returncode != 0:
        saved = subprocess.run(["docker", "save", test_image], capture_output=True, check=True, timeout=120)
        loaded = subprocess.run(
            [podman_binary(), "load", "-q"],
            input=saved.stdout,
            capture_output=True,
            check=False,
            timeout=120,
            env=podman_env(),
        )
        assert loaded.returncode == 0, loaded.stderr
    return test_image


def wait_for_page(url: str, deadline: float) -> str:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback
                return str(response.read().decode())
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer: {last}")


@pytest.fixture
def played(tmp_path: Path) -> Iterator[Path]:
    """The file handed to podman; whatever it played is taken down, whatever happened."""
    file = tmp_path / "played.yaml"
    yield file
    if file.exists():
        podman("kube", "down", str(file), check=False)
    podman("volume", "rm", "-f", f"{PROJECT}-data", check=False)


async def test_a_compose_project_exported_plays_on_podman(
    client: Client, project_dir: Path, podman_image: str, played: Path
) -> None:
    started = time.monotonic()
    result = ok(await client.call_tool("kubernetes-export", {"source": str(project_dir)}))
    exported = time.monotonic()
    assert result["objects"] == [
        f"PersistentVolumeClaim/{PROJECT}-data",
        "Deployment/web",
        "Service/web",
        "StatefulSet/worker",
    ]
    assert result["schema_check"] == "4 of 4 objects valid for Kubernetes 1.33 (offline)"
    assert "schema_errors" not in result or result["schema_errors"] is None
    assert result["pod_security"] == "baseline"  # both run as root
    untranslated = {(u["service"], u["field"]) for u in result["untranslated"]}
    assert {("worker", "depends_on"), ("web", "ports[0].host_ip"), ("web", "ports")} <= untranslated
    docs = list(yaml.safe_load_all(result["yaml"]))
    web = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["exec"]["command"][0] == "wget"
    assert web["resources"]["limits"] == {"cpu": "500m", "memory": "64Mi"}
    worker = docs[3]["spec"]["template"]["spec"]["containers"][0]
    assert worker["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "allowPrivilegeEscalation": False,
    }

    played.write_text(yaml.safe_dump_all(for_podman(docs), sort_keys=False))
    play_started = time.monotonic()
    podman("kube", "play", str(played))
    port = docs[2]["spec"]["ports"][0]["port"]
    page = wait_for_page(f"http://127.0.0.1:{port}/index.html", time.monotonic() + 30)
    reachable = time.monotonic()
    assert page == "hello-kube\n"

    containers = json.loads(podman("ps", "-a", "--format", "json").stdout)
    names = {c["Names"][0]: c for c in containers if not c["Names"][0].endswith("-infra")}
    web_name = next(n for n in names if n.endswith("-web"))
    worker_name = next(n for n in names if n.endswith("-worker"))
    assert names[worker_name]["State"] == "running"

    health = podman("healthcheck", "run", web_name, check=False)  # no systemd timers here: run it once
    assert health.returncode == 0, health.stdout + health.stderr
    inspected = json.loads(podman("inspect", web_name).stdout)[0]
    check = inspected["Config"]["Healthcheck"]
    assert "wget -q -O /dev/null http://127.0.0.1:8080/" in " ".join(check["Test"]), check
    assert check["Interval"] == 2_000_000_000, check  # periodSeconds: 2, from interval: 2s
    assert inspected["State"]["Health"]["Status"] == "healthy"

    volume = json.loads(podman("volume", "inspect", f"{PROJECT}-data").stdout)[0]
    assert volume["Name"] == f"{PROJECT}-data"
    mark = podman("exec", worker_name, "cat", "/data/mark")
    assert mark.stdout == "from-worker\n"
    readonly = podman("exec", worker_name, "touch", "/x", check=False)
    assert readonly.returncode != 0  # readOnlyRootFilesystem reached the container

    podman("kube", "down", str(played))
    assert not [
        c for c in json.loads(podman("ps", "-a", "--format", "json").stdout) if c["Names"][0] in names
    ]
    done = time.monotonic()
    print(
        f"\nkube round trip: export {exported - started:.2f} s,"
        f" play to first answer {reachable - play_started:.2f} s,"
        f" down {done - reachable:.2f} s, total {done - started:.2f} s"
    )


async def test_a_running_container_exports_with_its_security_context(
    client: Client,
    docker_client: docker.DockerClient,
    test_image: str,
    unique_name: str,
    run_labels: dict[str, str],
) -> None:
    container = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        labels=run_labels,
        user="65534",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="32m",
        ports={"8080/tcp": ("127.0.0.1", free_port())},
    )
    try:
        result = ok(await client.call_tool("kubernetes-export", {"source": unique_name, "kind": "container"}))
    finally:
        container.remove(force=True)
    name = unique_name
    assert result["objects"] == [f"Deployment/{name}", f"Service/{name}"]
    assert result["schema_check"] == "2 of 2 objects valid for Kubernetes 1.33 (offline)"
    assert result["pod_security"] == "restricted"
    (spec,) = [d for d in yaml.safe_load_all(result["yaml"]) if d["kind"] == "Deployment"]
    box = spec["spec"]["template"]["spec"]["containers"][0]
    assert box["securityContext"]["runAsUser"] == 65534
    assert box["resources"] == {"limits": {"memory": "32Mi"}}
    assert box["args"] == ["sleep", "300"]


async def test_a_missing_container_is_a_readable_error(client: Client) -> None:
    result = await client.call_tool("kubernetes-export", {"source": "mcpd-no-such-box", "kind": "container"})
    assert result.is_error
    assert "mcpd-no-such-box" in str(result.content[0])


async def test_under_label_scope_only_labelled_containers_and_no_compose_project(
    unix_host: str,
    docker_client: docker.DockerClient,
    test_image: str,
    unique_name: str,
    run_labels: dict[str, str],
    project_dir: Path,
) -> None:
    policy = dataclasses.replace(Policy(), label_scope=LABEL, read_only=True)
    outsider = docker_client.containers.run(
        test_image, ["sleep", "300"], name=unique_name, detach=True, labels={f"{LABEL_KEY}.other": RUN_ID}
    )
    insider = docker_client.containers.run(
        test_image, ["sleep", "300"], name=f"{unique_name}-in", detach=True, labels=run_labels
    )
    try:
        async with Client(build_server(settings_for(unix_host), policy=policy)) as scoped:
            tools = {t.name: t for t in (await scoped.list_tools()).tools}
            annotations = tools["kubernetes-export"].annotations
            assert annotations is not None
            assert annotations.read_only_hint is True  # listed in read-only mode: it only reads
            refused = error_text(
                await scoped.call_tool("kubernetes-export", {"source": unique_name, "kind": "container"})
            )
            assert "label" in refused
            assert unique_name in refused
            project = error_text(await scoped.call_tool("kubernetes-export", {"source": str(project_dir)}))
            assert "label_scope" in project
            fine = ok(
                await scoped.call_tool("kubernetes-export", {"source": insider.name, "kind": "container"})
            )
            assert fine["objects"] == [f"Deployment/{unique_name}-in"]
    finally:
        outsider.remove(force=True)
        insider.remove(force=True)
