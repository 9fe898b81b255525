"""MCP transports: stdio (default) and Streamable HTTP with a bearer token and Host/Origin checks."""

from __future__ import annotations

import hmac
import logging
import secrets
import sys
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_docker_server.config.settings import HttpSettings

__all__ = ["BearerAuth", "http_app", "run_http", "run_stdio", "transport_security"]

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
_LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


def run_stdio(server: MCPServer[Any]) -> None:
    """Serve on stdin/stdout; nothing else may write to stdout."""
    server.run("stdio")


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            # The scheme is case-insensitive (RFC 7235); the token is not.
            scheme, _, credential = given.partition(b" ")
            if (
                not hmac.compare_digest(b"Bearer " + credential.strip(), self._expected)
                or scheme.lower() != b"bearer"
            ):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="mcp-docker-server"'),
                        ],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'{"error":"unauthorized","detail":"send Authorization: Bearer <token>"}',
                    }
                )
                return
        await self.app(scope, receive, send)


def transport_security(http: HttpSettings) -> TransportSecuritySettings:
    """Always explicit: the SDK silently turns the checks off for non-loopback binds."""
    hosts = [*_LOOPBACK_HOSTS, *http.allowed_hosts]
    if http.host not in ("127.0.0.1", "localhost", "::1"):
        hosts.append(f"{http.host}:*")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[*_LOOPBACK_ORIGINS, *http.allowed_origins],
    )


def http_app(server: MCPServer[Any], http: HttpSettings, token: str | None) -> ASGIApp:
    """The Streamable HTTP app behind the bearer check (the SDK's own in OAuth mode)."""
    app = server.streamable_http_app(
        streamable_http_path=http.path,
        transport_security=transport_security(http),
        host=http.host,
        max_request_body_size=http.max_body_bytes,
    )
    return app if token is None else BearerAuth(app, token)


def run_http(server: MCPServer[Any], http: HttpSettings) -> None:
    """Serve Streamable HTTP; prints a generated token to stderr when none was configured."""
    token = http.token
    if token is None and http.oauth is None:
        token = secrets.token_urlsafe(32)
        # stderr, once: the operator needs it to configure the client. Never logged again.
        print(f"mcp-docker-server: no token configured; this run's bearer token is: {token}", file=sys.stderr)
    config = uvicorn.Config(
        http_app(server, http, token),
        host=http.host,
        port=http.port,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    logger.info("serving MCP over HTTP at http://%s:%d%s", http.host, http.port, http.path)
    anyio.run(uvicorn.Server(config).serve)
