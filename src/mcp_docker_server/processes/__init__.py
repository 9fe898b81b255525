"""Every process the server starts: one runner (argv lists, never a shell)."""

from mcp_docker_server.processes.runner import Completed, find_tool, run_process, run_tool

__all__ = ["Completed", "find_tool", "run_process", "run_tool"]
