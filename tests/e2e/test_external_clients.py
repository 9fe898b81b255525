"""Real external MCP clients against the spawned server: the MCP Inspector's CLI over stdio, and
the official conformance suite over Streamable HTTP (both pinned in tests/clients/package.json,
installed there by `npm ci`, which scripts/test.sh runs)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx2
import pytest
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, settings_for

pytestmark = [pytest.mark.e2e]

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
MODULES = CLIENTS / "node_modules" / "@modelcontextprotocol"
INSPECTOR_BUILD = MODULES / "inspector-cli" / "build"
CONFORMANCE = MODULES / "conformance" / "dist" / "index.js"

# The 16 tools of the issue (others may join them: the list is compared with the server's own).
TOOLS = {
    "build-image",
    "compose-stack",
    "container-logs",
    "container-stats",
    "docker-system",
    "exec-container",
    "image-operations",
    "inspect-container",
    "list-containers",
    "manage-container",
    "network-management",
    "run-container",
    "service-management",
    "stack-management",
    "swarm-management",
    "volume-management",
}

# The suite's server scenarios (conformance 0.1.13, `--suite all`), each either asserted or not
# applicable to a Docker server, with the reason. The second group applies once the server
# advertises the capability named: then the scenario is asserted like the first.
APPLY = {
    "server-initialize": "initialize handshake and the initialized notification",
    "ping": "ping answers {}",
    "tools-list": "every tool has a name, a description and an input schema",
    "server-sse-multiple-streams": "three concurrent POST requests in one session each get an SSE stream",
    "dns-rebinding-protection": "a foreign Host/Origin gets a 4xx, a loopback one a 2xx",
}
APPLY_WITH_CAPABILITY = {
    "logging-set-level": "logging",
    "resources-list": "resources",
    "prompts-list": "prompts",
}
_SUITE_TOOL = "calls the suite's own test tool `{}`, which a Docker server does not have"
_SUITE_RESOURCE = "reads the suite's own resource `{}`, which a Docker server does not have"
_SUITE_PROMPT = "gets the suite's own prompt `{}`, which a Docker server does not have"
NOT_APPLICABLE = {
    "tools-call-simple-text": _SUITE_TOOL.format("test_simple_text"),
    "tools-call-image": _SUITE_TOOL.format("test_image_content"),
    "tools-call-audio": _SUITE_TOOL.format("test_audio_content"),
    "tools-call-embedded-resource": _SUITE_TOOL.format("test_embedded_resource"),
    "tools-call-mixed-content": _SUITE_TOOL.format("test_multiple_content_types"),
    "tools-call-with-logging": _SUITE_TOOL.format("test_tool_with_logging"),
    "tools-call-error": _SUITE_TOOL.format("test_error_handling"),
    "tools-call-with-progress": _SUITE_TOOL.format("test_tool_with_progress"),
    "tools-call-sampling": _SUITE_TOOL.format("test_sampling") + "; the server never asks for sampling",
    "tools-call-elicitation": _SUITE_TOOL.format("test_elicitation"),
    "elicitation-sep1034-defaults": _SUITE_TOOL.format("test_elicitation_sep1034_defaults"),
    "elicitation-sep1330-enums": _SUITE_TOOL.format("test_elicitation_sep1330_enums"),
    "json-schema-2020-12": _SUITE_TOOL.format("json_schema_2020_12_tool") + " (a pending scenario)",
    "server-sse-polling": _SUITE_TOOL.format("test_reconnection") + " (a pending scenario)",
    "completion-complete": "completes an argument of the suite's own prompt `test_prompt_with_arguments`",
    "resources-read-text": _SUITE_RESOURCE.format("test://static-text"),
    "resources-read-binary": _SUITE_RESOURCE.format("test://static-binary"),
    "resources-templates-read": _SUITE_RESOURCE.format("test://template/123/data"),
    "resources-subscribe": "subscribes to the suite's own resource `test://watched-resource`",
    "resources-unsubscribe": "unsubscribes from the suite's own resource `test://watched-resource`",
    "prompts-get-simple": _SUITE_PROMPT.format("test_simple_prompt"),
    "prompts-get-with-args": _SUITE_PROMPT.format("test_prompt_with_arguments"),
    "prompts-get-embedded-resource": _SUITE_PROMPT.format("test_prompt_with_embedded_resource"),
    "prompts-get-with-image": _SUITE_PROMPT.format("test_prompt_with_image"),
}


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail(
            "node is not installed: apt-get install nodejs npm (Node 20+), then npm ci in tests/clients"
        )
    for path in (INSPECTOR_BUILD / "index.js", CONFORMANCE):
        if not path.is_file():
            pytest.fail(f"{path} is missing: run `npm ci` in {CLIENTS} (scripts/test.sh does)")
    return found


def base_env(unix_host: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": unix_host,
        "DOCKER_TIMEOUT": "30",
    }


# --- the MCP Inspector's CLI, over stdio -------------------------------------------------------


def inspector(node: str, unix_host: str, *args: str) -> dict[str, Any]:
    """One `mcp-inspector-cli --cli` run against `python -m mcp_docker_server`; its JSON answer."""
    completed = subprocess.run(
        [
            node,
            str(INSPECTOR_BUILD / "cli.js"),
            "--cli",
            "-e",
            f"DOCKER_HOST={unix_host}",
            "-e",
            "DOCKER_TIMEOUT=30",
            sys.executable,
            "-m",
            "mcp_docker_server",
            *args,
        ],
        # 1.0.3 tests for "../package.json" against the working directory but imports it relative
        # to its own file: only a working directory inside the package finds its name and version.
        cwd=INSPECTOR_BUILD,
        # The server gets this environment plus the -e settings above, as the Inspector passes them.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr
    answer: dict[str, Any] = json.loads(completed.stdout)
    return answer


async def test_inspector_lists_every_tool(
    node: str, unix_host: str, docker_client: docker.DockerClient
) -> None:
    """The Inspector sees the 16 tools, and exactly what the official SDK client sees."""
    answer = await anyio.to_thread.run_sync(inspector, node, unix_host, "--method", "tools/list")
    tools = answer["tools"]
    names = [tool["name"] for tool in tools]
    # The default policy, as the spawned server has it (settings_for enables dev-container).
    async with Client(build_server(settings_for(unix_host, MCP_DOCKER_EXPERIMENTAL_TOOLS=""))) as client:
        registered = {tool.name for tool in (await client.list_tools()).tools}
    assert sorted(names) == sorted(registered)
    assert set(names) >= TOOLS - {"service-management", "stack-management"}  # no swarm manager here
    for tool in tools:
        assert tool["description"]
        assert tool["inputSchema"]["type"] == "object"
        hint = tool["annotations"].get("readOnlyHint")  # absent: the spec's default, false
        assert hint is None or isinstance(hint, bool)


def test_inspector_calls_a_read_tool(node: str, unix_host: str, docker_client: docker.DockerClient) -> None:
    result = inspector(
        node,
        unix_host,
        "--method",
        "tools/call",
        "--tool-name",
        "docker-system",
        "--tool-arg",
        "action=version",
    )
    assert result["isError"] is False, result
    engine = docker_client.version()
    version = result["structuredContent"]["version"]
    assert version["version"] == engine["Version"]
    assert version["api_version"] == engine["ApiVersion"]
    assert engine["Version"] in result["content"][0]["text"]


def test_inspector_runs_a_container(
    node: str,
    unix_host: str,
    docker_client: docker.DockerClient,
    test_image: str,
    unique_name: str,
    run_labels: dict[str, str],
) -> None:
    try:
        result = inspector(
            node,
            unix_host,
            "--method",
            "tools/call",
            "--tool-name",
            "run-container",
            "--tool-arg",
            f"image={test_image}",
            f"name={unique_name}",
            f"labels={json.dumps(run_labels)}",
            "detach=true",
            'command=["sleep","60"]',
        )
        assert result["isError"] is False, result
        assert result["structuredContent"]["name"] == unique_name
        assert result["structuredContent"]["state"] == "running"
        container = docker_client.containers.get(unique_name)
        assert container.status == "running"
        assert container.labels[LABEL_KEY] == run_labels[LABEL_KEY]
        assert container.attrs["Config"]["Cmd"] == ["sleep", "60"]
        assert (container.id or "").startswith(result["structuredContent"]["id"])
    finally:
        for leftover in docker_client.containers.list(all=True, filters={"name": f"^{unique_name}$"}):
            leftover.remove(force=True)


def test_inspector_shows_a_tool_error_as_is_error(
    node: str, unix_host: str, docker_client: docker.DockerClient, unique_name: str
) -> None:
    result = inspector(
        node,
        unix_host,
        "--method",
        "tools/call",
        "--tool-name",
        "inspect-container",
        "--tool-arg",
        f"container_id={unique_name}",
    )
    assert result["isError"] is True
    assert unique_name in result["content"][0]["text"]


# --- the conformance suite, over Streamable HTTP -----------------------------------------------


class _BearerInjector(socketserver.BaseRequestHandler):
    """Adds `Authorization: Bearer <token>` to each request and forwards the rest byte for byte
    (Host and Origin included, so the suite's DNS-rebinding probes reach the server as sent).
    `Connection: close` keeps it one request a connection, so every request passes this head."""

    server: _Proxy

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk or len(head) > 65536:
                return
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        request_line, *fields = head.split(b"\r\n")
        dropped = {b"authorization", b"connection", b"keep-alive"}
        kept = [f for f in fields if f.partition(b":")[0].strip().lower() not in dropped]
        added = [b"Authorization: Bearer " + self.server.token.encode(), b"Connection: close"]
        with socket.create_connection(self.server.upstream) as upstream:
            upstream.sendall(b"\r\n".join([request_line, *kept, *added]) + b"\r\n\r\n" + body)
            sender = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
            sender.start()
            _pipe(upstream, client)
            sender.join(10)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy until either side ends, then end both (an SSE reader that gives up closes the stream)."""
    try:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int], token: str) -> None:
        super().__init__(("127.0.0.1", 0), _BearerInjector)
        self.upstream = upstream
        self.token = token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def initialize_result(url: str, token: str) -> dict[str, Any]:
    """The server's answer to a handshake-era initialize, as the suite's client gets it."""
    response = httpx2.post(
        url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test_external_clients", "version": "1"},
            },
        },
        headers={
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {token}",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/json"):
        message: dict[str, Any] = response.json()
    else:
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        message = json.loads(data[-1])
    result: dict[str, Any] = message["result"]
    return result


# The suite saves each scenario's checks in <output-dir>/server-<scenario>-<ISO time>/checks.json.
RESULT_DIR = re.compile(r"server-(?P<scenario>[a-z0-9-]+)-\d{4}-\d{2}-\d{2}T[0-9-]+Z")


class SuiteRun:
    def __init__(
        self, checks: dict[str, list[dict[str, Any]]], capabilities: dict[str, Any], log: str
    ) -> None:
        self.checks = checks
        self.capabilities = capabilities
        self.log = log


@pytest.fixture(scope="module")
def conformance(
    node: str, unix_host: str, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SuiteRun]:
    """The whole server suite, once, against the server on HTTP with its default bearer check."""
    work = tmp_path_factory.mktemp("conformance")
    port = free_port()
    token = "conformance-" + os.urandom(12).hex()
    server_log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mcp_docker_server"],
        env={
            **base_env(unix_host),
            "MCP_DOCKER_TRANSPORT": "http",
            "MCP_DOCKER_HTTP_PORT": str(port),
            "MCP_DOCKER_HTTP_TOKEN": token,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    proxy = _Proxy(("127.0.0.1", port), token)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while not listening(port):
            assert server.poll() is None, (work / "server.log").read_text()
            assert time.monotonic() < deadline, "the HTTP server did not listen"
            time.sleep(0.1)
        capabilities = initialize_result(f"http://127.0.0.1:{port}/mcp", token)["capabilities"]
        results = work / "results"
        completed = subprocess.run(
            [
                node,
                str(CONFORMANCE),
                "server",
                "--url",
                f"http://127.0.0.1:{proxy.server_address[1]}/mcp",
                "--suite",
                "all",
                "--output-dir",
                str(results),
            ],
            cwd=CLIENTS,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/root"),
                "NO_COLOR": "1",
            },
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        checks: dict[str, list[dict[str, Any]]] = {}
        for found in results.glob("server-*/checks.json"):
            named = RESULT_DIR.fullmatch(found.parent.name)
            assert named, found
            checks[named["scenario"]] = json.loads(found.read_text())
        yield SuiteRun(checks, capabilities, completed.stdout[-4000:] + completed.stderr[-2000:])
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()


def test_every_suite_scenario_is_classified(node: str) -> None:
    listed = subprocess.run(
        [node, str(CONFORMANCE), "list", "--server"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    scenarios = {line.strip()[2:] for line in listed.splitlines() if line.strip().startswith("- ")}
    classified = {*APPLY, *APPLY_WITH_CAPABILITY, *NOT_APPLICABLE}
    assert scenarios == classified
    assert len(classified) == len(APPLY) + len(APPLY_WITH_CAPABILITY) + len(NOT_APPLICABLE)


def test_the_suite_ran_every_scenario(conformance: SuiteRun) -> None:
    assert set(conformance.checks) == {*APPLY, *APPLY_WITH_CAPABILITY, *NOT_APPLICABLE}, conformance.log


def assert_passed(run: SuiteRun, scenario: str) -> None:
    checks = run.checks.get(scenario)
    assert checks, f"the suite ran no check for {scenario}:\n{run.log}"
    failed = [(c["id"], c.get("errorMessage")) for c in checks if c["status"] in ("FAILURE", "WARNING")]
    assert not failed, failed
    assert any(c["status"] == "SUCCESS" for c in checks), checks


@pytest.mark.parametrize("scenario", sorted(APPLY))
def test_conformance_scenario_passes(conformance: SuiteRun, scenario: str) -> None:
    assert_passed(conformance, scenario)


@pytest.mark.parametrize("scenario", sorted(APPLY_WITH_CAPABILITY))
def test_conformance_scenario_passes_when_the_capability_is_advertised(
    conformance: SuiteRun, scenario: str
) -> None:
    capability = APPLY_WITH_CAPABILITY[scenario]
    if capability in conformance.capabilities:
        assert_passed(conformance, scenario)
    else:
        # Unadvertised, the method must not exist: JSON-RPC "method not found", nothing else.
        checks = conformance.checks[scenario]
        assert [c["status"] for c in checks] == ["FAILURE"], checks
        assert "-32601" in (checks[0].get("errorMessage") or ""), checks
