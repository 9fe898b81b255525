"""The server's flags: each mirrors the environment variable named in its help (read by the
command line and by `doctor`, which takes every server flag too)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mcp_docker_server import __version__
from mcp_docker_server.config.settings import OPTIONS

__all__ = ["parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> dict[str, str | None]:
    """Parse flags into a mapping keyed by the environment variable each one mirrors."""
    parser = argparse.ArgumentParser(
        prog="mcp-docker-server",
        description="Model Context Protocol server for Docker. Every flag mirrors the environment "
        "variable named in its help; the flag wins.",
        epilog="`mcp-docker-server doctor` checks engines, Compose, credentials and policy.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-docker-server {__version__}")
    for option in OPTIONS:
        if option.is_bool:
            parser.add_argument(
                option.flag,
                dest=option.env,
                action="store_const",
                const="1",
                help=f"{option.help} [{option.env}]",
            )
        else:
            parser.add_argument(
                option.flag, dest=option.env, metavar="VALUE", help=f"{option.help} [{option.env}]"
            )
    return dict(vars(parser.parse_args(argv)))
