"""What the benchmarks share: the run's context, result rows, spawning a measured stdio server."""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from _engine import LABEL_KEY, Fixtures, socket_path
from _proc import child_pids, new_child, peak_rss_kib
from _server import server_params
from mcp import Client
from mcp.types import CallToolResult, TextContent

KIB = 1024
MIB = 1024 * 1024
ConnectMode = Literal["auto", "legacy"]


@dataclass(frozen=True)
class Row:
    """One line of the table: a measured figure next to its same-run baseline and its target."""

    benchmark: str
    measured: float
    unit: str
    baseline: float | None
    baseline_label: str
    target: str
    met: bool | None  # None: the issue sets no target for this figure
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.measured / self.baseline


@dataclass
class BenchResult:
    rows: list[Row]
    details: dict[str, object] = field(default_factory=dict)
    markdown: str = ""  # extra table printed after the summary (e.g. per tool)


@dataclass
class Suite:
    """One run: where the engine is, how many rounds, its fixtures, what every server peaked at."""

    run_id: str
    host: str
    image: str
    quick: bool
    fixtures: Fixtures
    peaks_kib: dict[str, int] = field(default_factory=dict)

    @property
    def socket(self) -> str:
        return socket_path(self.host)

    @property
    def label_selector(self) -> str:
        return f"{LABEL_KEY}={self.run_id}"

    def rounds(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def record_peak(self, tag: str, kib: int) -> None:
        """Keep the highest VmHWM seen per kind of server (several servers may share a tag)."""
        self.peaks_kib[tag] = max(kib, self.peaks_kib.get(tag, 0))


@dataclass(frozen=True)
class Spawned:
    client: Client
    pid: int


@asynccontextmanager
async def stdio_server(
    suite: Suite, tag: str, *, host: str | None = None, mode: ConnectMode = "auto"
) -> AsyncIterator[Spawned]:
    """The server over stdio through the official client; records its peak RSS before it exits."""
    before = child_pids()
    async with Client(server_params(host or suite.host), mode=mode) as client:
        spawned = Spawned(client, new_child(before))
        try:
            yield spawned
        finally:
            # Still alive here: the client stops the process only when its context exits.
            try:
                suite.record_peak(tag, peak_rss_kib(spawned.pid))
            except (OSError, RuntimeError) as exc:
                # The server died: say so, and let the error that killed it surface instead.
                print(f"{tag}: no peak RSS for pid {spawned.pid}: {exc}", file=sys.stderr)


def median_ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: with 50 samples p95 is the 48th value)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def checked(result: CallToolResult, what: str) -> CallToolResult:
    if result.is_error:
        raise RuntimeError(f"{what} failed: {text_of(result)[:500]}")
    return result


def text_of(result: CallToolResult) -> str:
    """All text blocks of a result, joined: what a client shows the model."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def result_sizes(result: CallToolResult) -> tuple[int, int]:
    """(text content bytes, compact structuredContent bytes) of a tool result."""
    structured = (
        json.dumps(result.structured_content, separators=(",", ":")) if result.structured_content else ""
    )
    return len(text_of(result).encode()), len(structured.encode())
