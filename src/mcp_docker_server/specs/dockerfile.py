"""Read what a build needs to know from a Dockerfile before sending it: its stages and any
feature only BuildKit understands. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["base_images", "DockerfileFacts", "frontend_image", "read_dockerfile"]

_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(\S*)", re.IGNORECASE)
_BUILDKIT_FLAGS = re.compile(
    r"^\s*(RUN|COPY|ADD)\b.*?(--mount|--network|--security|--link|--chmod|--checksum|--parents|--exclude)\b",
    re.IGNORECASE,
)
_HEREDOC = re.compile(r"^\s*(RUN|COPY|ADD)\b.*<<-?(['\"]?)[A-Za-z_]\w*\2(?:\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class DockerfileFacts:
    """Stage names in order, and the first BuildKit-only feature with its line (1-based)."""

    stages: tuple[str, ...]
    buildkit_feature: str | None = None
    buildkit_line: int | None = None


def read_dockerfile(text: str) -> DockerfileFacts:
    """Stages and BuildKit-only features; continuation lines are joined like the parser does."""
    stages: list[str] = []
    feature: tuple[str, int] | None = None
    for number, line in _logical_lines(text):
        if line.lstrip().startswith("#"):
            # Parser directives only count before the first instruction.
            if not stages and feature is None and _SYNTAX.match(line.strip()):
                feature = ("a `# syntax=` frontend directive", number)
            continue
        if match := _FROM.match(line):
            stages.append(match[1] or str(len(stages)))
            continue
        if feature is None and (flag := _BUILDKIT_FLAGS.match(line)):
            feature = (f"{flag[1].upper()} {flag[2]}", number)
        elif feature is None and (heredoc := _HEREDOC.match(line)):
            feature = (f"a heredoc in {heredoc[1].upper()}", number)
    if feature is None:
        return DockerfileFacts(tuple(stages))
    return DockerfileFacts(tuple(stages), feature[0], feature[1])


_FROM_IMAGE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


def frontend_image(text: str, build_args: dict[str, str] | None = None) -> str | None:
    """The Dockerfile frontend image BuildKit would pull and run instead of its built-in one:
    the ``BUILDKIT_SYNTAX`` build argument, else a ``# syntax=`` directive above the first
    instruction (BuildKit reads directives only there; any such line counts, to be safe)."""
    if build_args and build_args.get("BUILDKIT_SYNTAX", "").strip():
        return build_args["BUILDKIT_SYNTAX"].strip()
    for _, line in _logical_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return None  # an instruction: directives end here
        if match := _SYNTAX.match(stripped):
            return match[1] or None
    return None


def base_images(text: str) -> list[str]:
    """The images a Dockerfile's stages start from, in order: not ``scratch``, not an earlier
    stage's name (``FROM build``), as written (``${VAR}`` left as it is)."""
    stages: set[str] = set()
    images: list[str] = []
    for _, line in _logical_lines(text):
        if match := _FROM_IMAGE.match(line):
            image = match[1]
            if image.lower() != "scratch" and image not in stages:
                images.append(image)
            if match[2]:
                stages.add(match[2])
    return images


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith("\\") and not stripped.lstrip().startswith("#"):
            pending += stripped[:-1] + " "
            continue
        lines.append((start, pending + raw))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines
