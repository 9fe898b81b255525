"""Name matching shared by the listings and prunes of networks and volumes (pure)."""

from __future__ import annotations

import fnmatch

__all__ = ["matches"]


def matches(name: str, pattern: str, *, substring: bool = True) -> bool:
    """``*`` or empty matches all; a glob matches by shape; listings also match substrings,
    but prunes never do (removing ``mydata2`` when asked for ``data`` would be a surprise)."""
    if pattern in ("", "*") or fnmatch.fnmatchcase(name, pattern):
        return True
    return substring and pattern in name
