"""What every benchmark spawns: the server over stdio, quiet, pointed at one engine."""

from __future__ import annotations

import os
import sys

from mcp import StdioServerParameters


def server_params(host: str) -> StdioServerParameters:
    """`python -m mcp_docker_server` on ``host``, logging warnings only."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_docker_server"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "DOCKER_HOST": host,
            "MCP_DOCKER_LOG_LEVEL": "WARNING",
        },
    )
