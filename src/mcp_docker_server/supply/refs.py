"""Image references, as far as pinning needs them. Pure."""

from __future__ import annotations

__all__ = ["pinned_reference", "repository_of"]


def repository_of(ref: str) -> str:
    """``ref`` without its tag or digest: ``127.0.0.1:5000/app:v1`` -> ``127.0.0.1:5000/app``."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def pinned_reference(ref: str, digest: str) -> str:
    """The reference that names exactly ``digest`` in ``ref``'s repository."""
    return f"{repository_of(ref)}@{digest}"
