"""mcp-docker-server: a Model Context Protocol server for the Docker Engine."""

__version__ = "0.1.0"
