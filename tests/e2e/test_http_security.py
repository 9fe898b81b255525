"""HTTP transport security, against the spawned server: tokens, OAuth resource-server mode,
Host/Origin checks, body limits, and what a non-loopback bind requires."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

LIST = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
ISSUER, AUDIENCE = "https://auth.example.test", "mcp-docker-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, unix_host: str, **env: str) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / f"server-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_docker_server", "--transport", "http", "--port", str(port)],
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DOCKER_HOST": unix_host,
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None, (tmp_path / f"server-{port}.log").read_text()
            assert time.monotonic() < deadline, "server did not listen"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def token_server(tmp_path: Path, unix_host: str) -> Iterator[tuple[str, str]]:
    token = "t-" + os.urandom(12).hex()
    with serving(
        tmp_path,
        unix_host,
        MCP_DOCKER_HTTP_TOKEN=token,
        MCP_DOCKER_HTTP_MAX_BODY_BYTES="4096",
        MCP_DOCKER_ALLOWED_HOSTS="mcp.internal:*",
        MCP_DOCKER_ALLOWED_ORIGINS="https://app.internal",
    ) as url:
        yield url, token


async def post(url: str, headers: dict[str, str], body: Any = LIST, **kwargs: Any) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers={**HEADERS, **headers}, **kwargs)


async def test_token_variants(token_server: tuple[str, str]) -> None:
    url, token = token_server
    assert (await post(url, {"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await post(url, {"Authorization": f"bearer {token}"})).status_code == 200
    assert (await post(url, {})).status_code == 401
    assert (await post(url, {"Authorization": f"Bearer {token}x"})).status_code == 401
    assert (await post(url, {"Authorization": f"Basic {token}"})).status_code == 401
    assert (await post(url, {"Authorization": token})).status_code == 401
    assert (await post(f"{url}?access_token={token}", {})).status_code == 401


async def test_hosts_origins_and_body_limit(token_server: tuple[str, str]) -> None:
    url, token = token_server
    auth = {"Authorization": f"Bearer {token}"}
    assert (await post(url, {**auth, "Host": "mcp.internal:8080"})).status_code == 200
    assert (await post(url, {**auth, "Host": "evil.example"})).status_code == 421
    assert (await post(url, {**auth, "Origin": "https://app.internal"})).status_code == 200
    assert (await post(url, {**auth, "Origin": "https://evil.example"})).status_code == 403
    params = LIST["params"]
    assert isinstance(params, dict)
    big = {**LIST, "params": {**params, "padding": "x" * 8192}}
    assert (await post(url, auth, big)).status_code == 413


def test_non_loopback_bind_needs_the_flag_and_a_token(unix_host: str) -> None:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": unix_host,
        "MCP_DOCKER_TRANSPORT": "http",
        "MCP_DOCKER_HTTP_HOST": "0.0.0.0",
    }
    for extra, setting in (
        ({}, "MCP_DOCKER_HTTP_HOST"),
        ({"MCP_DOCKER_ALLOW_REMOTE_HTTP": "1"}, "MCP_DOCKER_HTTP_TOKEN"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mcp_docker_server"],
            env={**base, **extra},
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2
        assert setting in done.stderr


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path_factory.mktemp("oauth") / "issuer.pub.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pem, other


def mint(key: Any, **claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "exp": int(time.time()) + 300,
        "scope": "docker",
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256")


@pytest.fixture
def oauth_server(tmp_path: Path, unix_host: str, keys: tuple[Any, Path, Any]) -> Iterator[str]:
    with serving(
        tmp_path,
        unix_host,
        MCP_DOCKER_OAUTH_ISSUER=ISSUER,
        MCP_DOCKER_OAUTH_AUDIENCE=AUDIENCE,
        MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE=str(keys[1]),
        MCP_DOCKER_OAUTH_SCOPES="docker",
    ) as url:
        yield url


async def test_oauth_valid_token_drives_the_tools(oauth_server: str, keys: tuple[Any, Path, Any]) -> None:
    headers = {"Authorization": f"Bearer {mint(keys[0])}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(oauth_server, http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        assert "list-containers" in names
        result = await client.call_tool("list-containers", {})
        assert not result.is_error


@pytest.mark.parametrize(
    ("claims", "signer"),
    [
        ({"aud": "someone-else"}, "key"),
        ({"iss": "https://evil.example"}, "key"),
        ({"exp": int(time.time()) - 60}, "key"),
        ({"exp": None}, "key"),
        ({"scope": "read"}, "key"),
        ({}, "other"),
    ],
)
async def test_oauth_refuses_bad_tokens(
    oauth_server: str, keys: tuple[Any, Path, Any], claims: dict[str, Any], signer: str
) -> None:
    token = mint(keys[0] if signer == "key" else keys[2], **claims)
    response = await post(oauth_server, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "resource_metadata" in response.headers["www-authenticate"]


async def test_oauth_publishes_protected_resource_metadata(oauth_server: str) -> None:
    base = oauth_server.rsplit("/mcp", 1)[0]
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["resource"] == oauth_server
    assert metadata["authorization_servers"] == [ISSUER]
    missing = await post(oauth_server, {})
    assert missing.status_code == 401
