"""The result of a build-image dry run: what the build context would send."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.models import _Out

__all__ = ["BuildPreview", "ContextEntry"]


class ContextEntry(_Out):
    """One file of the context."""

    path: str
    size_bytes: int


class BuildPreview(_Out):
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
