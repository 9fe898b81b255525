"""What build-image (a build, or a dry run's preview of the context) and image-operations return."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = [
    "BuildPreview",
    "ContextEntry",
    "BuildResult",
    "HistoryRow",
    "ImageDetail",
    "ImageResult",
    "ImageRow",
]


class ImageRow(Compact):
    """One local image."""

    id: str
    tags: list[str] = Field(default_factory=list)
    size_bytes: int
    created: str


class HistoryRow(Compact):
    """One layer of an image's history, newest first."""

    id: str | None = None
    created: str
    size_bytes: int
    created_by: str = Field(description="The instruction that made the layer (truncated).")


class ImageDetail(Compact):
    """Compact inspect of one image."""

    id: str
    tags: list[str] = Field(default_factory=list)
    digests: list[str] = Field(default_factory=list)
    size_bytes: int
    created: str
    os: str = ""
    architecture: str = ""
    user: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="Values hidden; keys only.")
    exposed_ports: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    healthcheck: list[str] | None = None
    layers: int = 0


class ImageResult(Compact):
    """Result of image-operations; which fields are set depends on the action."""

    action: str
    image: ImageDetail | None = None
    images: list[ImageRow] | None = None
    history: list[HistoryRow] | None = None
    digest: str | None = Field(default=None, description="pull/push: the manifest digest.")
    removed: list[str] | None = Field(default=None, description="Deleted image ids and untagged names.")
    reclaimed_bytes: int | None = None
    truncated: bool = False
    note: str | None = None


class BuildResult(Compact):
    """Result of build-image."""

    id: str
    tags: list[str]
    size_bytes: int
    steps: int = Field(description="Dockerfile steps run.")
    cached_steps: int = 0
    seconds: float
    log_tail: str = Field(description="Last lines of the build output (untrusted).")
    builder: Literal["buildkit", "classic"]
    warnings: list[str] = Field(default_factory=list, description="BuildKit's build checks.")
    note: str | None = None


class ContextEntry(Compact):
    """One file of the context."""

    path: str
    size_bytes: int


class BuildPreview(Compact):
    """What build-image would send to the engine; nothing was built."""

    context: str = Field(description="The context folder (resolved).")
    dockerfile: str
    files: int
    symlinks: int = Field(description="Sent as links, never followed.")
    total_bytes: int
    limit_bytes: int
    largest: list[ContextEntry]
    secret_files: list[str] = Field(description="Look like secrets; a build refuses them.")
    dockerignore: list[str] = Field(description="The .dockerignore patterns applied.")
    note: str
