"""Docker Compose v2, driven as a subprocess (the only place processes start)."""

from mcp_docker_server.compose.plan import (
    ComposePlan,
    ProjectRequests,
    compose_argv,
    parse_ps,
    project_requests,
)
from mcp_docker_server.compose.runner import CompletedCompose, ComposeRunner, compose_env

__all__ = [
    "CompletedCompose",
    "ComposePlan",
    "ComposeRunner",
    "ProjectRequests",
    "compose_argv",
    "compose_env",
    "parse_ps",
    "project_requests",
]
