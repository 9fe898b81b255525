"""The only layer that talks to docker-py (imported lazily, on the first call)."""

from mcp_docker_server.engine.admission import Admission
from mcp_docker_server.engine.catalog import Catalog
from mcp_docker_server.engine.containers import Containers
from mcp_docker_server.engine.core import Engine
from mcp_docker_server.engine.events import ContainerEvent, EventFeed, Watched
from mcp_docker_server.engine.images import Images
from mcp_docker_server.engine.networks import Networks
from mcp_docker_server.engine.swarm import Swarm
from mcp_docker_server.engine.system import System
from mcp_docker_server.engine.volumes import Volumes

__all__ = [
    "Admission",
    "Catalog",
    "ContainerEvent",
    "Containers",
    "Engine",
    "EventFeed",
    "Images",
    "Networks",
    "Swarm",
    "System",
    "Volumes",
    "Watched",
]
