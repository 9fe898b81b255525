"""Images as a tool names and builds them: references and build requests (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mcp_docker_server.errors import InvalidArgument

__all__ = ["BuildSecret", "BuildSpec", "validate_image_reference"]


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
class BuildSecret:
    """A BuildKit build secret: ``id`` as ``RUN --mount=type=secret,id=...`` names it, read
    from a host file (``kind`` "file", ``source`` its resolved path) or from one of the
    server's environment variables (``kind`` "env", ``source`` its name)."""

    id: str
    kind: str
    source: str


@dataclass(frozen=True)
class BuildSpec:
    """A build as asked: paths are checked by the engine layer before any work. The fields
    after ``max_context_bytes`` need BuildKit (buildx); caches are buildx CSV entries whose
    host folders are already judged and resolved."""

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
    secrets: tuple[BuildSecret, ...] = ()
    ssh: bool = False
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    network: str | None = None
    load: bool = True

    @property
    def needs_buildkit(self) -> list[str]:
        """The options asked for that only BuildKit has (empty: the classic builder can build it)."""
        asked = {
            "secrets": bool(self.secrets),
            "ssh": self.ssh,
            "cache_from": bool(self.cache_from),
            "cache_to": bool(self.cache_to),
            "network": self.network is not None,
            "load=false": not self.load,
        }
        return [name for name, on in asked.items() if on]


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
