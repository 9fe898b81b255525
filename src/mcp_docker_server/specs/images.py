"""Images as a tool names and builds them: references and build requests (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mcp_docker_server.errors import InvalidArgument

__all__ = ["BuildSpec", "validate_image_reference"]


# distribution/reference grammar, as the engine applies it (lower-case repository path).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"


_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"


_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"


_NAME = rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*"


_TAG = r"[\w][\w.-]{0,127}"


_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"


_REFERENCE = re.compile(rf"{_NAME}(?::{_TAG})?(?:@{_DIGEST})?")


_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")


@dataclass(frozen=True)
class BuildSpec:
    """A build as asked: paths are checked by the engine layer before any work."""

    path: str
    tag: str
    dockerfile: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    max_context_bytes: int = 512 * 1024 * 1024


def validate_image_reference(ref: str) -> str:
    """Return ``ref`` if it is a valid image reference or id.

    Raises:
        InvalidArgument: with what is wrong and an example of the right shape.
    """
    ref = ref.strip()
    if _REFERENCE.fullmatch(ref) or _IMAGE_ID.fullmatch(ref):
        return ref
    hint = "use [registry/]repository[:tag][@sha256:digest], e.g. busybox:1.36 or ghcr.io/org/app:v1."
    if ref != ref.lower() and _REFERENCE.fullmatch(_lower_path(ref)):
        hint = "repository names must be lower-case. " + hint
    raise InvalidArgument(f"Invalid image reference {ref!r}.", hint=hint)


def _lower_path(ref: str) -> str:
    name, sep, rest = ref.partition(":")
    return name.lower() + sep + rest
