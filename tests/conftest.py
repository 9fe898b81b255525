"""Shared fixtures. Engine-backed tests FAIL (never skip) when no engine can be reached.

`scripts/test-engine.sh up` brings the engines up and writes the MCPD_TEST_* variables that
`scripts/test.sh` exports; without them the local socket and `busybox:local` are assumed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import docker
import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

from mcp_docker_server.config.settings import Settings, load_settings
from mcp_docker_server.server import build_server

RUN_ID = uuid.uuid4().hex[:12]
LABEL_KEY = "io.mcp-docker-server.test-run"
LABEL = f"{LABEL_KEY}={RUN_ID}"


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        pytest.fail(f"{name} is not set: run the suite through scripts/test.sh, which brings up the engines")
    return value


def pytest_report_header(config: pytest.Config) -> str:
    """Which engine the session runs against (scripts/test.sh runs the suite, then its
    compatibility pass, on two engines: each log then says which one its counts are for)."""
    host = os.environ.get("MCPD_TEST_UNIX_HOST", "unix:///var/run/docker.sock")
    version = os.environ.get("MCPD_TEST_ENGINE_VERSION", "unknown version")
    api = os.environ.get("MCPD_TEST_ENGINE_API", "?")
    return f"docker engine: {host}, Docker {version} (API {api})"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def test_image() -> str:
    return env("MCPD_TEST_IMAGE", "busybox:local")


@pytest.fixture(scope="session")
def unix_host() -> str:
    return env("MCPD_TEST_UNIX_HOST", "unix:///var/run/docker.sock")


@pytest.fixture(scope="session")
def docker_client(unix_host: str, test_image: str) -> Iterator[docker.DockerClient]:
    """A raw docker-py client to check the engine's real state; fails the run without an engine."""
    try:
        client = docker.DockerClient(base_url=unix_host, version="auto", timeout=30)
        client.images.get(test_image)
    except docker.errors.ImageNotFound:
        pytest.fail(f"test image {test_image} is missing: scripts/test-engine.sh up builds it")
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine at {unix_host} ({exc}): scripts/test-engine.sh up starts one")
    yield client
    leaked = client.containers.list(all=True, filters={"label": LABEL})
    for container in leaked:
        container.remove(force=True)
    client.close()
    assert not leaked, f"tests leaked containers: {[c.name for c in leaked]}"


@pytest.fixture
def run_labels() -> dict[str, str]:
    """Labels every test resource carries, so the session can prove nothing leaked."""
    return {LABEL_KEY: RUN_ID}


@pytest.fixture
def unique_name() -> str:
    return f"mcpd-test-{uuid.uuid4().hex[:8]}"


def settings_for(host: str, **extra: str) -> Settings:
    """Settings for an in-process server on ``host``; the opt-in dev-container tool is
    enabled (its tests need it; the default list without it is tested over stdio)."""
    defaults = {"DOCKER_HOST": host, "DOCKER_TIMEOUT": "30", "MCP_DOCKER_EXPERIMENTAL_TOOLS": "dev-container"}
    return load_settings({**defaults, **extra})


async def accept_all(context: Any, params: ElicitRequestParams) -> ElicitResult:
    """A user who says yes to every confirmation (destructive actions ask first)."""
    return ElicitResult(action="accept", content={"confirm": True})


@pytest.fixture
async def client(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    """The official MCP client, in memory, against a server on the real engine."""
    server = build_server(settings_for(unix_host))
    async with Client(server, elicitation_callback=accept_all) as mcp_client:
        yield mcp_client


@pytest.fixture
async def classic_client(
    unix_host: str, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    """A server on the same engine whose docker CLI has no buildx (DOCKER_CONFIG is an empty
    folder, where scripts/test-engine.sh did not link the plugin): builds use the classic builder."""
    config = tmp_path_factory.mktemp("docker-config-without-buildx")
    server = build_server(settings_for(unix_host, DOCKER_CONFIG=str(config)))
    async with Client(server, elicitation_callback=accept_all) as mcp_client:
        yield mcp_client


@pytest.fixture(params=["buildkit", "classic"])
def builder(request: pytest.FixtureRequest) -> str:
    """Run a build test with each builder (use with :func:`builder_client`)."""
    return str(request.param)


@pytest.fixture
def builder_client(builder: str, request: pytest.FixtureRequest) -> Client:
    """The client whose server builds with ``builder``."""
    client: Client = request.getfixturevalue("client" if builder == "buildkit" else "classic_client")
    return client


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful call (fails with the error text otherwise)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


def error_text(result: CallToolResult) -> str:
    """The text of a failed call (fails when the call succeeded)."""
    assert result.is_error, f"expected an error, got {result.structured_content}"
    return text_of(result)


def labelled(docker_client: docker.DockerClient) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"label": LABEL})
