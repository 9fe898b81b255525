"""Command line: flags mirror the environment variables; the only reader of sys.argv."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from mcp_docker_server.config.settings import Settings, load_settings
from mcp_docker_server.errors import ConfigError
from mcp_docker_server.flags import parse_args

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``mcp-docker-server`` and ``python -m mcp_docker_server``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["doctor"]:
        from mcp_docker_server.doctor import run_doctor

        raise SystemExit(run_doctor(args[1:]))
    flags = parse_args(argv)
    try:
        settings = load_settings(os.environ, flags)
    except ConfigError as exc:
        print(f"mcp-docker-server: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    _configure_logging(settings)
    from mcp_docker_server.engine.core import forgo_charset_detection, forgo_ssh
    from mcp_docker_server.server import build_server
    from mcp_docker_server.transports import run_http, run_stdio

    # Memory: what docker-py would load for nothing (see each function).
    if all(config.target.scheme != "ssh" for config in settings.engine_configs()):
        forgo_ssh()
    forgo_charset_detection()

    try:
        server = build_server(settings)  # checks the policy's tool names against the tools
    except ConfigError as exc:
        print(f"mcp-docker-server: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        if settings.transport == "http":
            run_http(server, settings.http)
        else:
            run_stdio(server)
    except KeyboardInterrupt:
        pass


def _configure_logging(settings: Settings) -> None:
    # stdout carries the protocol on stdio: every log line goes to stderr.
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("mcp_docker_server")
    log.info(
        "engine %s (%s), transport %s", settings.engine.display, settings.engine.source, settings.transport
    )
    for warning in settings.warnings:
        log.warning("%s", warning)
