"""The names the Dev Containers CLI gives what it makes, and the labels that tie a container to
its folder (pure).

The CLI names the images it builds for a workspace folder ``vsc-<folder name>-<sha256 of the
folder path>`` (with ``-features`` and ``-uid`` variants), made a valid Docker name
(@devcontainers/cli ``src/spec-node/utils.ts``: ``getFolderImageName`` and
``toDockerImageName``). A build for one folder may give only those names, and ``remove`` deletes
only those: a name is never moved from, or removed for, an image some other folder or workload
uses.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

__all__ = [
    "FOLDER_LABEL",
    "OWNER_LABEL",
    "PROJECT_LABEL",
    "folder_image_name",
    "is_folder_image",
]

FOLDER_LABEL = "devcontainer.local_folder"  # set by the CLI on the dev container
PROJECT_LABEL = "com.docker.compose.project"  # set by Compose on every container of a project
# Set by this server on every container of a Compose-based dev container (in the private copy of
# the rendered project that Compose runs): the folder whose dev container it belongs to.
OWNER_LABEL = "io.mcp-docker-server.devcontainer"

_INVALID = re.compile(r"[^a-z0-9._-]+")
_SEPARATOR_RUNS = re.compile(r"(\.[._-]|_[.-]|__[._-]|-+[._])[._-]*")


def _docker_name(text: str) -> str:
    """The CLI's ``toDockerImageName``: lower case, only [a-z0-9._-], separator runs cut."""
    return _SEPARATOR_RUNS.sub(lambda m: m.group(1)[:-1], _INVALID.sub("", text.lower()))


def folder_image_name(folder: str) -> str:
    """The repository name the CLI gives images it builds for the workspace ``folder`` (its
    path as the CLI was given it), e.g. ``vsc-app-3f1c...`` (64 hex digits)."""
    digest = hashlib.sha256(folder.encode()).hexdigest()
    return _docker_name(f"vsc-{posixpath.basename(folder)}-{digest}")


def is_folder_image(folder: str, ref: str) -> bool:
    """Whether the image reference ``ref`` (``name[:tag]``) is one of the CLI's names for
    ``folder``: the folder's image name, or it with a suffix (``-features``, ``-uid``)."""
    name = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    own = folder_image_name(folder)
    return name == own or name.startswith(own + "-")
