"""BuildKit builds through the docker CLI's buildx plugin: finding it, the argv of a build, and
the solver's progress stream (``--progress=rawjson``) read into steps, cache hits and errors."""

from mcp_docker_server.buildx.argv import build_argv
from mcp_docker_server.buildx.runner import BUILDX_MIN, Buildx, BuildxInfo
from mcp_docker_server.buildx.solve import SolveState

__all__ = ["BUILDX_MIN", "Buildx", "BuildxInfo", "SolveState", "build_argv"]
