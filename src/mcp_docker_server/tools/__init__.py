"""MCP-facing tools, one module per resource family; thin: parse, guard, engine, shape."""

from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools.compose import register as register_compose
from mcp_docker_server.tools.containers import register as register_containers
from mcp_docker_server.tools.images import register as register_images
from mcp_docker_server.tools.networks import register as register_networks
from mcp_docker_server.tools.swarm import register as register_swarm
from mcp_docker_server.tools.system import register as register_system
from mcp_docker_server.tools.volumes import register as register_volumes

__all__ = [
    "Guard",
    "register_compose",
    "register_containers",
    "register_images",
    "register_networks",
    "register_swarm",
    "register_system",
    "register_volumes",
]
