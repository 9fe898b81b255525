"""What the dev-container tool returns."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["DevContainerConfig", "DevContainerState", "DevContainerUp"]


class DevContainerUp(Compact):
    """A running development container and how an IDE attaches to it."""

    container_id: str
    container_name: str
    workspace_folder: str = Field(description="The project folder inside the container.")
    remote_user: str | None = None
    attach: str = Field(description="How VS Code attaches (Dev Containers extension).")
    vscode_uri: str = Field(description="Opens the folder in the container: code --folder-uri <uri>.")


class DevContainerConfig(Compact):
    """A folder's devcontainer.json as the Dev Containers CLI reads it (variables substituted)."""

    config_file: str | None = None
    configuration: dict[str, Any]
    workspace_folder: str | None = None
    workspace_mount: str | None = None
    note: str | None = None


class DevContainerState(Compact):
    """The development containers of a folder after stop or remove."""

    folder: str
    action: str
    containers: list[str] = Field(default_factory=list, description="Names acted on.")
    removed_images: list[str] = Field(default_factory=list)
    note: str | None = None
