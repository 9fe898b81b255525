"""Command line: flags mirror the environment variables; the only reader of sys.argv."""

from __future__ import annotations

import contextlib
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
    _few_malloc_arenas()

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


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own heap (up to 8 per core), and the engine's
    worker threads (10) each keep one warm: two arenas hold the same work in less memory. What
    MALLOC_ARENA_MAX=2 does, set here because the server starts with the user's environment."""
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX (malloc.h); a no-op on a libc without it


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
