"""The README is the front door: its client blocks run, and its tables match the server.

- every ```json block marked `<!-- client: NAME stdio|http -->` is a client configuration,
  used as written (only the interpreter placeholder, the port and the token are filled in);
- the Tools table lists exactly the server's tools, each with exactly its parameters and every
  action, and a kind that agrees with the tool's annotations;
- the Settings table lists exactly the settings the server reads, each with its flag.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import docker
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer

from mcp_docker_server.config.settings import OPTIONS
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, ok, settings_for
from tests.e2e.test_stdio_and_http import http_server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
PLACEHOLDER = "/path/to/mcp-docker-server/.venv/bin/python"
CLIENT_BLOCK = re.compile(r"<!-- client: (\S+) (stdio|http) -->\n```json\n(.*?)```", re.DOTALL)
CLIENT_BLOCKS = {
    f"{name} {transport}": json.loads(body) for name, transport, body in CLIENT_BLOCK.findall(README)
}
TOKEN_REFERENCES = ("${MCP_DOCKER_HTTP_TOKEN}", "${env:MCP_DOCKER_HTTP_TOKEN}", "${input:docker-token}")

assert http_server  # a fixture, used by name below


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def server_entry(config: dict[str, Any]) -> dict[str, Any]:
    servers = config.get("mcpServers") or config.get("servers")
    assert isinstance(servers, dict), config
    entry = servers["docker"]
    assert isinstance(entry, dict)
    return entry


def test_every_client_and_transport_has_a_block() -> None:
    expected = {"specification stdio"} | {
        f"{client} {transport}"
        for client in ("claude-code", "vscode", "cursor")
        for transport in ("stdio", "http")
    }
    assert expected | {"claude-desktop stdio"} == set(CLIENT_BLOCKS)


async def check_session(client: Client) -> None:
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"run-container", "manage-container", "compose-stack", "docker-system"} <= names
    listing = ok(await client.call_tool("list-containers", {"all": True, "label": [LABEL]}))
    assert listing["containers"] == []


@pytest.mark.parametrize("block", sorted(name for name in CLIENT_BLOCKS if name.endswith("stdio")))
async def test_stdio_blocks_start_the_server_as_written(
    block: str, docker_client: docker.DockerClient
) -> None:
    entry = server_entry(CLIENT_BLOCKS[block])
    assert entry.get("type", "stdio") == "stdio"
    command = entry["command"]
    assert command in (PLACEHOLDER, "python"), command
    # A client starts the command with its own environment plus the block's "env"; "python"
    # is the installed environment's interpreter, as on the user's PATH.
    venv_bin = str(Path(sys.executable).parent)
    params = StdioServerParameters(
        command=sys.executable if command == PLACEHOLDER else command,
        args=entry["args"],
        env={
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", "/root"),
            **entry.get("env", {}),
        },
    )
    async with Client(params) as client:
        await check_session(client)


@pytest.mark.parametrize("block", sorted(name for name in CLIENT_BLOCKS if name.endswith("http")))
async def test_http_blocks_reach_a_running_server_as_written(
    block: str, http_server: tuple[str, str]
) -> None:
    url, token = http_server
    config = CLIENT_BLOCKS[block]
    entry = server_entry(config)
    assert entry.get("type", "http") == "http"
    assert entry["url"] == "http://127.0.0.1:8000/mcp"
    header = entry["headers"]["Authorization"]
    reference = next(ref for ref in TOKEN_REFERENCES if ref in header)
    if reference.startswith("${input:"):  # VS Code prompts for it, as a password
        asked = {item["id"]: item for item in config["inputs"]}
        assert asked["docker-token"]["password"] is True
    headers = {"Authorization": header.replace(reference, token)}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        await check_session(client)


def tools_table() -> dict[str, tuple[str, str]]:
    """The rows of the Tools section's table of tools (the section has other tables)."""
    table = section("Tools").split("| Tool | Kind | Parameters |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \| (.+) \|$", table, re.MULTILINE)
    return {name: (kind.strip(), parameters) for name, kind, parameters in rows}


def top_level_names(parameters: str) -> set[str]:
    """Backticked names outside parentheses: `a` (`x`, `y`), `b`/`c` gives a, b, c."""
    depth, kept = 0, []
    for char in parameters:
        depth += char == "("
        if depth == 0:
            kept.append(char)
        depth -= char == ")" and depth > 0
    return set(re.findall(r"`([a-z_]+)`", "".join(kept)))


async def test_the_tools_table_matches_the_server(unix_host: str) -> None:
    # Every tool the server has, in full: the list hides swarm tools off a swarm manager and
    # shows optional ones as stubs until their first call (tools/listing.py), which builds them;
    # the README documents them all.
    server = build_server(settings_for(unix_host))
    async with Client(server) as client:
        for stub in (await client.list_tools()).tools:
            if not stub.input_schema["properties"]:
                await client.call_tool(stub.name, {})
    tools = {tool.name: tool for tool in await MCPServer.list_tools(server)}
    table = tools_table()
    assert set(table) == set(tools)
    for name, tool in tools.items():
        kind, parameters = table[name]
        properties = tool.input_schema["properties"]
        assert top_level_names(parameters) == set(properties), name
        actions = properties.get("action", {}).get("enum", [])
        missing = [action for action in actions if f"`{action}`" not in parameters]
        assert not missing, f"{name}: actions missing from the README: {missing}"
        assert tool.annotations is not None
        if tool.annotations.read_only_hint:
            assert kind.startswith("read-only"), name
        elif tool.annotations.destructive_hint is not False:  # absent: the spec's default, true
            assert "destructive" in kind, name
        else:
            assert kind.startswith("mutating"), name


def test_the_settings_table_matches_the_server() -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| `(--[a-z-]+)` \|", section("Settings"), re.MULTILINE)
    assert dict(rows) == {option.env: option.flag for option in OPTIONS}
