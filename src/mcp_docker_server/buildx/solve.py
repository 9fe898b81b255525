"""The build graph as buildx's ``--progress=rawjson`` reports it (pure).

Each line is one JSON object of BuildKit's SolveStatus (buildx util/progress, moby/buildkit
client/graph.go): ``vertexes`` (a step: digest, name, started, completed, cached, error),
``statuses`` (a transfer within a step: current/total bytes), ``logs`` (a step's output, base64)
and ``warnings`` (short text base64). A vertex is reported again each time it changes. Lines
that are not JSON are buildx's own words (the final ``ERROR: ...``) and are kept as they are.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_docker_server.results import shaping

__all__ = ["SolveState", "Vertex"]

# A Dockerfile instruction's vertex: "[2/5] RUN ..." or "[stage 3/4] COPY ..." (the frontend's
# names, dockerfile2llb); "[internal] ..." and exporting steps are not instructions.
_STEP = re.compile(r"^\[(?:[^\]\s]+ )?\d+/\d+\] ")
_FROM = re.compile(r"^\[[^\]]*\] FROM ", re.IGNORECASE)
_LOG_BYTES = 8 * 1024  # per step: enough for the failing step's last lines


@dataclass
class Vertex:
    """One node of the build graph."""

    name: str
    started: bool = False
    completed: bool = False
    cached: bool = False
    error: str | None = None
    current_bytes: int = 0
    total_bytes: int = 0
    log: shaping.BoundedTail = field(default_factory=lambda: shaping.BoundedTail(_LOG_BYTES))
    order: int = 0

    @property
    def is_step(self) -> bool:
        """A Dockerfile instruction (not loading, context transfer or export)."""
        return bool(_STEP.match(self.name))


@dataclass
class SolveState:
    """What the stream has said so far. ``feed`` each line, then read the summary."""

    vertexes: dict[str, Vertex] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    output: shaping.BoundedTail = field(default_factory=lambda: shaping.BoundedTail(16 * 1024))
    events: int = 0

    def feed(self, line: str) -> bool:
        """Take one line of the stream. Returns True when it changed what progress shows."""
        line = line.strip()
        if not line:
            return False
        try:
            status = json.loads(line)
        except ValueError:
            status = None
        if not isinstance(status, Mapping):
            self.said = [*self.said[-19:], shaping.clean_text(line)[:600]]
            return False
        self.events += 1
        for raw in status.get("vertexes") or []:
            self._vertex(raw)
        for raw in status.get("statuses") or []:
            self._status(raw)
        for raw in status.get("logs") or []:
            self._log(raw)
        for raw in status.get("warnings") or []:
            self._warning(raw)
        return bool(status.get("vertexes") or status.get("statuses"))

    # ----------------------------------------------------------------- what progress shows

    @property
    def steps(self) -> list[Vertex]:
        """The Dockerfile instructions seen, in the order they appeared."""
        return [v for v in self.vertexes.values() if v.is_step]

    @property
    def cached_steps(self) -> int:
        """Instructions BuildKit took from its cache (a FROM is resolved, never built: not counted,
        as the classic builder does not count it)."""
        return sum(1 for v in self.steps if v.cached and not _FROM.match(v.name))

    def progress(self) -> tuple[int, int, str]:
        """(vertexes done, vertexes known, message): the step running now (the newest started
        and not completed), cached steps so far, and bytes when a transfer reports them."""
        known = list(self.vertexes.values())
        done = sum(1 for v in known if v.completed)
        running = [v for v in known if v.started and not v.completed]
        cached = self.cached_steps
        if running:
            current = max(running, key=lambda v: v.order)
            message = current.name
            if current.total_bytes:
                message += f" ({_size(current.current_bytes)}/{_size(current.total_bytes)})"
            elif current.current_bytes:
                message += f" ({_size(current.current_bytes)})"
        else:
            message = "waiting for BuildKit" if not known else "finishing"
        if cached:
            message += f"; {cached} cached"
        return done, max(len(known), 1), message

    def failure(self) -> tuple[Vertex | None, str]:
        """The step that failed (None when the failure is not a step's) and buildx's last
        words (its ``ERROR:`` line, else the failing vertex's error)."""
        failed = [v for v in self.vertexes.values() if v.error and "context canceled" not in v.error]
        vertex = max(failed, key=lambda v: v.order) if failed else None
        errors = [line for line in self.said if line.startswith("ERROR")]
        words = errors[-1] if errors else (vertex.error or "" if vertex else "")
        if not words:
            words = self.said[-1] if self.said else "buildx failed without saying why"
        return vertex, words.removeprefix("ERROR: ").strip()

    # ----------------------------------------------------------------- parsing

    def _vertex(self, raw: Mapping[str, Any]) -> None:
        digest = str(raw.get("digest") or "")
        vertex = self.vertexes.get(digest)
        if vertex is None:
            vertex = self.vertexes[digest] = Vertex(
                name=shaping.clean_text(str(raw.get("name") or "?"))[:160], order=len(self.vertexes)
            )
        vertex.started = vertex.started or bool(raw.get("started"))
        vertex.completed = vertex.completed or bool(raw.get("completed"))
        vertex.cached = vertex.cached or bool(raw.get("cached"))
        if raw.get("error"):
            vertex.error = shaping.clean_text(str(raw["error"]))[:1000]

    def _status(self, raw: Mapping[str, Any]) -> None:
        vertex = self.vertexes.get(str(raw.get("vertex") or ""))
        if vertex is not None:
            vertex.current_bytes = _int(raw.get("current"))
            vertex.total_bytes = _int(raw.get("total"))

    def _log(self, raw: Mapping[str, Any]) -> None:
        data = _b64(raw.get("data"))
        vertex = self.vertexes.get(str(raw.get("vertex") or ""))
        if vertex is not None:
            vertex.log.add(data)
        self.output.add(data)

    def _warning(self, raw: Mapping[str, Any]) -> None:
        text = shaping.clean_text(_b64(raw.get("short")).decode(errors="replace")).strip()
        if text and text not in self.warnings and len(self.warnings) < 20:
            self.warnings.append(text[:300])


def _b64(value: object) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _int(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"
