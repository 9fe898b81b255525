"""compose-stack on the real Compose v2 and the real engine."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, error_text, labelled, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

DOCKERFILE = """\
FROM {image} AS base
ARG GREETING=unset
RUN mkdir -p /www && echo "$GREETING" > /www/index.html
FROM base AS extra
RUN echo never-built > /www/extra.html
"""

COMPOSE = """\
services:
  web:
    build:
      context: .
      target: base
      args:
        GREETING: hello-from-build
    image: mcpd-test-web:{run}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 10
    stop_grace_period: 1s
    labels:
      {label_key}: "{run}"
  worker:
    image: {image}
    command: ["sh", "-c", "echo worker-start; wget -q -O- http://web:8080/ > /data/page; exec sleep 300"]
    depends_on:
      web:
        condition: service_healthy
    volumes:
      - data:/data
    stop_grace_period: 1s
    labels:
      {label_key}: "{run}"
volumes:
  data:
    labels:
      {label_key}: "{run}"
"""


@pytest.fixture
def project_dir(tmp_path: Path, test_image: str) -> Path:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(image=test_image))
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(image=test_image, run=RUN_ID, label_key=LABEL_KEY))
    (tmp_path / ".dockerignore").write_text("compose.yaml\n")
    return tmp_path


@pytest.fixture
def cleanup(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Projects named here are taken down (with volumes) after the test, whatever happened."""
    projects: list[str] = []
    yield projects
    for project in projects:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}
        ):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters={"label": f"com.docker.compose.project={project}"}):
            volume.remove(force=True)
        for network in docker_client.networks.list(
            filters={"label": f"com.docker.compose.project={project}"}
        ):
            network.remove()
    for image in docker_client.images.list(name="mcpd-test-web"):
        docker_client.images.remove(str(image.id), force=True)


async def compose(client: Client, file: Path | str, action: str, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("compose-stack", {"compose_file": str(file), "action": action, **args}))


def states(result: dict[str, Any]) -> dict[str, str]:
    return {row["service"]: row["state"] for row in result["services"]}


async def test_compose_lifecycle_build_health_logs_volumes(
    client: Client,
    project_dir: Path,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    project = unique_name
    cleanup.append(project)
    file = project_dir / "compose.yaml"
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    up = ok(
        await client.call_tool(
            "compose-stack",
            {"compose_file": str(file), "action": "up", "project_name": project, "build": True},
            progress_callback=on_progress,
        )
    )
    assert states(up) == {"web": "running", "worker": "running"}
    assert {row["service"]: row["health"] for row in up["services"]}["web"] == "healthy"
    assert len(seen) >= 3, seen
    image = docker_client.images.get(f"mcpd-test-web:{RUN_ID}")
    assert image.labels is not None

    worker = f"{project}-worker-1"
    page = ok(await client.call_tool("exec-container", {"container_id": worker, "command": "cat /data/page"}))
    assert page["stdout"] == "hello-from-build\n"  # build arg reached the image, target=base
    missing = ok(
        await client.call_tool("exec-container", {"container_id": f"{project}-web-1", "command": "ls /www"})
    )
    assert missing["stdout"].split() == ["index.html"]  # the later stage was not built

    logs = await compose(client, file, "logs", project_name=project, services=["worker"])
    assert "worker-start" in logs["output"]
    assert "httpd" not in logs["output"]

    first_ids = {c.name: c.id for c in docker_client.containers.list(filters={"label": LABEL})}
    again = await compose(client, file, "up", project_name=project)
    assert states(again) == {"web": "running", "worker": "running"}
    assert {c.name: c.id for c in docker_client.containers.list(filters={"label": LABEL})} == first_ids

    restarted = await compose(client, file, "restart", project_name=project, services=["worker"])
    assert states(restarted)["worker"] == "running"
    stopped = await compose(client, file, "stop", project_name=project)
    assert set(states(stopped).values()) == {"exited"}
    started = await compose(client, file, "start", project_name=project)
    assert set(states(started).values()) == {"running"}

    down = await compose(client, file, "down", project_name=project)
    assert down["services"] == []
    assert labelled(docker_client) == []
    volume = f"{project}_data"
    assert docker_client.volumes.get(volume).name == volume  # kept unless asked
    ok(
        await client.call_tool(
            "compose-stack",
            {"compose_file": str(file), "action": "down", "project_name": project, "remove_volumes": True},
        )
    )
    assert not [v for v in docker_client.volumes.list() if v.name == volume]


async def test_two_project_names_do_not_collide(
    client: Client,
    project_dir: Path,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    file = project_dir / "compose.yaml"
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    cleanup.extend([first, second])
    await compose(client, file, "up", project_name=first, build=True)
    await compose(client, file, "up", project_name=second)
    for project in (first, second):
        rows = (await compose(client, file, "ps", project_name=project))["services"]
        assert {row["name"] for row in rows} == {f"{project}-web-1", f"{project}-worker-1"}
    await compose(client, file, "down", project_name=first, remove_volumes=True)
    assert states(await compose(client, file, "ps", project_name=second)) == {
        "web": "running",
        "worker": "running",
    }
    await compose(client, file, "down", project_name=second, remove_volumes=True)


async def test_specification_compose_example(
    client: Client, test_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleanup: list[str]
) -> None:
    """`./docker-compose.dev.yml`, project `ai-development`, `up` with `build: true`."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(f"FROM {test_image}\nRUN echo dev > /env\n")
    (tmp_path / "docker-compose.dev.yml").write_text(
        textwrap.dedent(
            f"""\
            services:
              api:
                build: ./app
                image: mcpd-test-web:{RUN_ID}-dev
                command: ["sh", "-c", "cat /env; exec sleep 300"]
                stop_grace_period: 1s
                labels:
                  {LABEL_KEY}: "{RUN_ID}"
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    cleanup.append("ai-development")
    result = await compose(
        client, "./docker-compose.dev.yml", "up", project_name="ai-development", build=True
    )
    assert result["project"] == "ai-development"
    assert states(result) == {"api": "running"}
    await compose(client, "./docker-compose.dev.yml", "down", project_name="ai-development")


async def test_config_and_validate_summarise_the_project(client: Client, project_dir: Path) -> None:
    result = await compose(client, project_dir / "compose.yaml", "validate", project_name="mcpd-cfg")
    assert result["config"] == {"web": f"mcpd-test-web:{RUN_ID}", "worker": result["config"]["worker"]}
    assert result["volumes"] == ["data"]
    assert result["project"] == "mcpd-cfg"


async def test_compose_errors_are_clear(client: Client, tmp_path: Path, project_dir: Path) -> None:
    missing = error_text(
        await client.call_tool("compose-stack", {"compose_file": str(tmp_path / "nope.yml"), "action": "up"})
    )
    assert "Compose file not found" in missing
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  a:\n    image: [unclosed\n")
    yaml_error = error_text(
        await client.call_tool("compose-stack", {"compose_file": str(bad), "action": "up"})
    )
    assert str(bad) in yaml_error
    assert "line" in yaml_error
    unknown = error_text(
        await client.call_tool(
            "compose-stack",
            {
                "compose_file": str(project_dir / "compose.yaml"),
                "action": "ps",
                "services": ["ghost"],
                "project_name": "mcpd-unknown",
            },
        )
    )
    assert "ghost" in unknown
    assert "service" in unknown
    injected = error_text(
        await client.call_tool(
            "compose-stack",
            {"compose_file": str(project_dir / "compose.yaml"), "action": "ps", "services": ["--version"]},
        )
    )
    assert "Invalid service name" in injected


async def test_missing_compose_says_how_to_install_it(
    unix_host: str, project_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = settings_for(unix_host, HOME=str(tmp_path))
    async with Client(build_server(settings)) as client:
        text = error_text(
            await client.call_tool(
                "compose-stack", {"compose_file": str(project_dir / "compose.yaml"), "action": "ps"}
            )
        )
    assert "Docker Compose v2 was not found" in text
    assert "docker-compose-plugin" in text


@pytest.mark.parametrize(
    ("service", "rule"),
    [
        ("privileged: true", "privileged"),
        ("network_mode: host", "host-network"),
        ("pid: host", "host-pid"),
        ("volumes: ['/var/run/docker.sock:/var/run/docker.sock']", "socket-bind"),
        ("volumes: ['/etc:/host-etc:ro']", "sensitive-bind"),
        ("cap_add: [SYS_ADMIN]", "cap-add"),
        ("volumes: ['sneaky:/x']", "sensitive-bind"),
    ],
)
async def test_compose_up_passes_the_same_policy_guard(
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
              bad:
                image: {test_image}
                command: ["sleep", "30"]
                labels:
                  {LABEL_KEY}: "{RUN_ID}"
                {service}
            """
        )
        + (
            "volumes:\n  sneaky:\n    driver_opts: {type: none, o: bind, device: /etc}\n"
            if "sneaky" in service
            else ""
        )
    )
    text = error_text(
        await client.call_tool(
            "compose-stack", {"compose_file": str(file), "action": "up", "project_name": "mcpd-policy"}
        )
    )
    assert f"policy rule '{rule}'" in text
    assert labelled(docker_client) == []
    assert not docker_client.volumes.list(filters={"label": "com.docker.compose.project=mcpd-policy"})


async def test_ports_without_an_address_listen_on_the_publish_address_only(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    # README: as run-container, a port without an address binds MCP_DOCKER_PUBLISH_ADDRESS
    # (127.0.0.1 in tests); Compose alone would listen on every interface. An explicit address
    # is kept.
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {test_image}\n    command: [sleep, '300']\n"
        "    ports: ['18081:80', '80', {target: 81, published: '18082'}, '127.0.0.2:18083:82']\n"
        f"    labels:\n      {LABEL_KEY}: '{RUN_ID}'\n"
    )
    cleanup.append(unique_name)
    await compose(client, tmp_path / "compose.yaml", "up", project_name=unique_name)
    (container,) = docker_client.containers.list(
        filters={"label": f"com.docker.compose.project={unique_name}"}
    )
    bound = {
        (b["HostIp"], port) for port, bindings in container.attrs["HostConfig"]["PortBindings"].items()
        for b in bindings
    }  # fmt: skip
    assert bound == {("127.0.0.1", "80/tcp"), ("127.0.0.1", "81/tcp"), ("127.0.0.2", "82/tcp")}
