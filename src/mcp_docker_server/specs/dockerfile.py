"""Read what a build needs to know from a Dockerfile before sending it: its stages and any
feature only BuildKit understands. Pure."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

__all__ = ["base_images", "DockerfileFacts", "frontend_image", "read_dockerfile"]

_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_SYNTAX = re.compile(r"^(?:#\s*)?syntax\s*=\s*(\S*)", re.IGNORECASE)
# COPY --from=<image or stage>, RUN --mount=type=...,from=<image or stage>
_FROM_FLAG = re.compile(r"(?:^|[\s,])-{0,2}from=([^\s,]+)", re.IGNORECASE)
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
    the ``BUILDKIT_SYNTAX`` build argument, else a ``syntax`` directive as BuildKit detects it
    (frontend/dockerfile/parser/directives.go): after a byte-order mark and a shebang, in a
    ``#`` or ``//`` comment above the first instruction, or the ``syntax`` key of a JSON
    document. Any such line counts, to be safe."""
    if build_args and build_args.get("BUILDKIT_SYNTAX", "").strip():
        return build_args["BUILDKIT_SYNTAX"].strip()
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        with contextlib.suppress(ValueError):
            document = json.loads(text)
            if isinstance(document, dict) and isinstance(document.get("syntax"), str):
                return str(document["syntax"]).strip() or None
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if not stripped or (number == 1 and stripped.startswith("#!")):
            continue
        if not stripped.startswith(("#", "//")):
            return None  # an instruction: directives end here
        if match := _SYNTAX.match(stripped.removeprefix("//").removeprefix("#").strip()):
            return match[1] or None
    return None


def base_images(text: str) -> list[str]:
    """The images a Dockerfile takes files from, in order: the images its stages start from,
    and those ``COPY --from=`` and ``RUN --mount=...,from=`` name; not ``scratch``, not a
    stage's name or index (``FROM build``, ``--from=0``), as written (``${VAR}`` left as is)."""
    stages: set[str] = set()
    images: list[str] = []
    for _, line in _logical_lines(text):
        if match := _FROM_IMAGE.match(line):
            image = match[1]
            if image.lower() != "scratch" and image not in stages:
                images.append(image)
            if match[2]:
                stages.add(match[2])
            continue
        for source in _FROM_FLAG.findall(line):
            source = source.strip("\"'")
            if source not in stages and not source.isdigit() and source.lower() != "scratch":
                images.append(source)
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
