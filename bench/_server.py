"""What every benchmark spawns: the server, quiet, pointed at one engine (stdio unless told)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from mcp import StdioServerParameters


def server_params(host: str, extra_env: Mapping[str, str] | None = None) -> StdioServerParameters:
    """`python -m mcp_docker_server` on ``host``, logging warnings only.

    ``extra_env`` adds settings (e.g. the HTTP transport); the HTTP benchmark spawns the same
    command and environment itself, so this stays the one place that decides both.
    """
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_docker_server"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "DOCKER_HOST": host,
            "MCP_DOCKER_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        },
    )
