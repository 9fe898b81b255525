"""End to end: spawn `python -m mcp_docker_server` and drive it with the official MCP client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp_docker_server.tools.catalog import CATALOG
from tests.conftest import LABEL, accept_all, error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SPEC_TOOLS = {"run-container", "manage-container"}


def server_env(unix_host: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": unix_host,
        "DOCKER_TIMEOUT": "30",
        **extra,
    }


def stdio_params(unix_host: str, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_docker_server"], env=server_env(unix_host, **extra)
    )


@pytest.fixture
async def stdio_client(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    async with Client(stdio_params(unix_host), elicitation_callback=accept_all) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http_server(
    unix_host: str, docker_client: docker.DockerClient, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """The server on Streamable HTTP with a token from a file; yields (url, token)."""
    port = free_port()
    token = "e2e-" + os.urandom(8).hex()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcp_docker_server",
            "--transport",
            "http",
            "--port",
            str(port),
            "--token-file",
            str(token_file),
        ],
        env=server_env(unix_host),
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        with socket.socket() as probe:
            for _ in range(100):
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
                anyio_sleep_blocking(0.1)
            else:
                pytest.fail(f"HTTP server did not listen: {(tmp_path / 'server.log').read_text()}")
        yield f"http://127.0.0.1:{port}/mcp", token
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        assert process.stdout is not None
        assert process.stdout.read() == b"", "nothing but the protocol may reach stdout"
        log.close()


def anyio_sleep_blocking(seconds: float) -> None:
    import time

    time.sleep(seconds)


async def test_stdio_lists_tools_with_annotations_and_schemas(stdio_client: Client) -> None:
    tools = {tool.name: tool for tool in (await stdio_client.list_tools()).tools}
    assert SPEC_TOOLS | {"list-containers", "inspect-container", "container-logs", "exec-container"} <= set(
        tools
    )
    for tool in tools.values():
        assert tool.annotations is not None  # hints at the spec's default are left out
        assert tool.description
    run_params = tools["run-container"].input_schema["properties"]
    assert {"image", "name", "ports", "volumes", "environment", "command", "detach"} <= set(run_params)
    manage_params = tools["manage-container"].input_schema["properties"]
    assert set(manage_params) >= {"container_id", "action", "force", "timeout"}
    listing, managing = tools["list-containers"].annotations, tools["manage-container"].annotations
    assert listing is not None
    assert managing is not None
    assert listing.read_only_hint is True
    # Absent hints mean the spec's defaults: not read-only, destructive, open-world.
    assert managing.read_only_hint is None
    assert managing.destructive_hint is None
    assert managing.open_world_hint is False


def o200k_tokens(text: str) -> int:
    """Tokens of ``text`` by OpenAI's o200k_base encoding (gpt-tokenizer, pinned in
    tests/clients/package.json, which scripts/test.sh installs)."""
    script = Path(__file__).resolve().parents[1] / "clients" / "count-tokens.cjs"
    done = subprocess.run(["node", str(script)], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


async def test_the_default_tool_list_fits_its_token_budget_and_every_family_is_reachable(
    stdio_client: Client,
) -> None:
    """Every conversation pays for the tool list: at most 4,000 tokens (o200k) on one engine
    that is not a swarm manager, under the default policy, as the client receives it. Every
    family stays reachable: listed, listed as a stub that shows its parameters after a first
    call, or named by docker-system info with how it appears."""
    tools = (await stdio_client.list_tools()).tools
    dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    text = json.dumps(dumped, separators=(",", ":"))
    tokens = o200k_tokens(text)
    sizes = {t["name"]: len(json.dumps(t, separators=(",", ":"))) for t in dumped}
    assert tokens <= 4000, (tokens, sizes)
    assert len(text) <= 16_000, sizes
    listed = set(sizes)
    assert {"service-management", "stack-management"}.isdisjoint(listed)  # no swarm here
    info = (await stdio_client.call_tool("docker-system", {"action": "info"})).structured_content
    assert info is not None
    note = str(info["note"])
    for decl in CATALOG.values():
        assert decl.name in listed or decl.name in note, decl.name
        if decl.listed == "on_demand":
            assert decl.name in note
    assert "(need a swarm manager)" in note
    assert all(t.output_schema is None for t in tools)


async def test_specification_run_container_example_over_stdio(
    stdio_client: Client,
    test_image: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    unique_name: str,
) -> None:
    """The specification's GPU training example, adapted: local image, temp dirs, no GPU."""
    data = tmp_path / "training"
    models = tmp_path / "models"
    data.mkdir()
    models.mkdir()
    (data / "epochs.txt").write_text("100\n")
    key, value = LABEL.split("=")
    arguments: dict[str, Any] = {
        "image": test_image,
        "name": unique_name,
        "volumes": [
            {"host_path": str(data), "container_path": "/workspace/data", "mode": "ro"},
            {"host_path": str(models), "container_path": "/workspace/models", "mode": "rw"},
        ],
        "environment": {"CUDA_VISIBLE_DEVICES": "0,1", "PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:512"},
        "command": "sh -c 'cat /workspace/data/epochs.txt > /workspace/models/out.txt; "
        "echo $CUDA_VISIBLE_DEVICES >> /workspace/models/out.txt; exec sleep 300'",
        "detach": True,
        "labels": {key: value},
    }
    started = ok(await stdio_client.call_tool("run-container", arguments))
    try:
        assert started["state"] == "running"
        with anyio.fail_after(10):
            while not (models / "out.txt").exists() or len((models / "out.txt").read_text().splitlines()) < 2:
                await anyio.sleep(0.1)
        assert (models / "out.txt").read_text() == "100\n0,1\n"
        attrs = docker_client.containers.get(unique_name).attrs
        binds = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
        assert binds == {"/workspace/data": False, "/workspace/models": True}
        denied = ok(
            await stdio_client.call_tool(
                "exec-container", {"container_id": unique_name, "command": "touch /workspace/data/x"}
            )
        )
        assert denied["exit_code"] != 0
    finally:
        ok(
            await stdio_client.call_tool(
                "manage-container", {"container_id": unique_name, "action": "remove", "force": True}
            )
        )


async def test_stdio_policy_denial_is_a_readable_error(stdio_client: Client, test_image: str) -> None:
    result = await stdio_client.call_tool(
        "run-container", {"image": test_image, "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}
    )
    assert "policy rule 'socket-bind'" in error_text(result)


async def test_server_starts_and_answers_clearly_when_the_engine_is_down(tmp_path: Path) -> None:
    missing = f"unix://{tmp_path}/no-engine.sock"
    with anyio.fail_after(20):
        async with Client(stdio_params(missing)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names >= SPEC_TOOLS
            text = error_text(await client.call_tool("list-containers", {}))
    assert f"Docker engine unreachable at {missing}" in text
    assert "dockerd running" in text


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DOCKER_HOST": "foo://bar"}, "DOCKER_HOST"),
        (
            {
                "DOCKER_HOST": "tcp://127.0.0.1:2376",
                "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": "/nonexistent",
            },
            "DOCKER_CERT_PATH",
        ),
        ({"DOCKER_HOST": "tcp://198.51.100.7:2375"}, "DOCKER_HOST"),
        ({"DOCKER_TIMEOUT": "soon"}, "DOCKER_TIMEOUT"),
        ({"MCP_DOCKER_HTTP_HOST": "0.0.0.0", "MCP_DOCKER_TRANSPORT": "http"}, "MCP_DOCKER_HTTP_HOST"),
    ],
)
def test_broken_settings_stop_startup_with_exit_code_2(env: dict[str, str], setting: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mcp_docker_server"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), **env},
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert setting in lines[0]
    assert "Next:" in lines[0]
    assert completed.stdout == ""


async def test_http_with_token_serves_tools(
    http_server: tuple[str, str], test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    url, token = http_server
    key, value = LABEL.split("=")
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        assert names >= SPEC_TOOLS
        result = ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "command": ["echo", "over-http"],
                    "detach": False,
                    "labels": {key: value},
                    "auto_remove": True,
                },
            )
        )
        assert result["output"] == "over-http\n"
        assert result["removed"] is True
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as legacy,
    ):
        listing = ok(await legacy.call_tool("list-containers", {"all": True}))
        assert "containers" in listing


async def test_http_refuses_missing_or_wrong_token_and_foreign_hosts(http_server: tuple[str, str]) -> None:
    url, token = http_server
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as http:
        missing = await http.post(url, json=body, headers=headers)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await http.post(url, json=body, headers={**headers, "Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        authed = {**headers, "Authorization": f"Bearer {token}"}
        foreign_host = await http.post(url, json=body, headers={**authed, "Host": "evil.example"})
        assert foreign_host.status_code == 421
        foreign_origin = await http.post(url, json=body, headers={**authed, "Origin": "http://evil.example"})
        assert foreign_origin.status_code == 403


def test_http_without_a_token_generates_one_and_prints_it_to_stderr(unix_host: str, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_docker_server", "--transport", "http", "--port", str(port)],
        env=server_env(unix_host),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for _ in range(20):
            line = process.stderr.readline()
            if "bearer token is:" in line:
                break
        assert "bearer token is:" in line
        token = line.rsplit(":", 1)[1].strip()
        assert len(token) >= 32
    finally:
        process.terminate()
        process.wait(10)
    assert process.stdout is not None
    assert process.stdout.read() == ""
