"""Several engines in one server: the primary (unix socket) and the second dockerd over mutual
TLS, named in an engines file. Each call picks its engine; each engine keeps its own policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, env, error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


def engines_file(tmp_path: Path, *, prod_read_only: bool = False) -> Path:
    path = tmp_path / "engines.toml"
    path.write_text(
        f"""
default = "local"

[engines.local]
host = "{env("MCPD_TEST_UNIX_HOST")}"

[engines.remote]
host = "{env("MCPD_TEST_TLS_HOST")}"
tls_verify = true
cert_path = "{env("MCPD_TEST_TLS_CERT_PATH")}"

[engines.prod]
host = "{env("MCPD_TEST_TLS_HOST")}"
tls_verify = true
cert_path = "{env("MCPD_TEST_TLS_CERT_PATH")}"
read_only = {str(prod_read_only).lower()}
"""
    )
    return path


@pytest.fixture
async def multi(tmp_path: Path, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    settings = load_settings(
        {"MCP_DOCKER_ENGINES_FILE": str(engines_file(tmp_path, prod_read_only=True)), "DOCKER_TIMEOUT": "30"}
    )
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        yield client


def second_engine() -> docker.DockerClient:
    return docker.DockerClient(base_url=env("MCPD_TEST_SECOND_UNIX_HOST"))


async def run_on(client: Client, engine: str, name: str, image: str) -> dict[str, Any]:
    return ok(
        await client.call_tool(
            "run-container",
            {
                "engine": engine,
                "image": image,
                "name": name,
                "network": "none",  # the second engine has no bridge
                "labels": {LABEL_KEY: RUN_ID},
                "command": ["sleep", "300"],
            },
        )
    )


async def test_engine_parameter_is_published_only_with_several_engines(multi: Client, client: Client) -> None:
    tools = {t.name: t for t in (await multi.list_tools()).tools}
    engine = tools["list-containers"].input_schema["properties"]["engine"]
    assert engine["enum"] == ["local", "remote", "prod"]
    single = {t.name: t for t in (await client.list_tools()).tools}
    assert "engine" not in single["list-containers"].input_schema["properties"]


async def test_engines_lists_reachability_and_versions(tmp_path: Path) -> None:
    path = tmp_path / "engines.toml"
    path.write_text(
        engines_file(tmp_path).read_text() + '\n[engines.down]\nhost = "unix:///nonexistent/docker.sock"\n'
    )
    settings = load_settings({"MCP_DOCKER_ENGINES_FILE": str(path), "DOCKER_TIMEOUT": "5"})
    async with Client(build_server(settings)) as client:
        rows = ok(await client.call_tool("docker-system", {"action": "engines"}))["engines"]
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["local", "remote", "prod", "down"]
    assert by_name["local"]["default"] is True
    assert by_name["remote"]["reachable"] is True
    assert by_name["remote"]["api_version"]
    assert by_name["down"]["reachable"] is False
    assert "unreachable" in by_name["down"]["error"]


async def test_a_container_on_one_engine_is_invisible_on_the_other(
    multi: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    second = second_engine()
    try:
        await run_on(multi, "remote", unique_name, test_image)
        remote = ok(await multi.call_tool("list-containers", {"engine": "remote", "name": unique_name}))
        local = ok(await multi.call_tool("list-containers", {"engine": "local", "name": unique_name}))
        default = ok(await multi.call_tool("list-containers", {"name": unique_name}))
        assert [c["name"] for c in remote["containers"]] == [unique_name]
        assert local["containers"] == []
        assert default["containers"] == []
        assert second.containers.get(unique_name).status == "running"
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(unique_name)
    finally:
        for container in second.containers.list(all=True, filters={"label": f"{LABEL_KEY}={RUN_ID}"}):
            container.remove(force=True)
        second.close()


async def test_a_change_that_names_no_engine_is_refused(
    multi: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    text = error_text(await multi.call_tool("run-container", {"image": test_image, "name": unique_name}))
    assert "several engines are configured" in text
    assert "local, remote, prod" in text
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(unique_name)


async def test_a_read_only_engine_refuses_a_mutation_the_others_allow(
    multi: Client, test_image: str, unique_name: str
) -> None:
    text = error_text(
        await multi.call_tool(
            "run-container", {"engine": "prod", "image": test_image, "name": unique_name, "network": "none"}
        )
    )
    assert "read-only" in text
    assert "read_only = false" in text
    second = second_engine()
    try:
        with pytest.raises(docker.errors.NotFound):
            second.containers.get(unique_name)
        # Reads still work on the read-only engine.
        assert ok(await multi.call_tool("list-containers", {"engine": "prod"}))["containers"] is not None
    finally:
        second.close()


async def test_an_unknown_engine_is_a_clear_error(multi: Client) -> None:
    result = await multi.call_tool("list-containers", {"engine": "staging"})
    assert result.is_error
    assert "staging" in str(result.content)
