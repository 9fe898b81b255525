"""Run the benchmark suite against the real engine; print a markdown table, write JSON.

    .venv/bin/python bench/run.py [--quick] [--only NAME[,NAME]] [--out PATH]

Needs a unix:// engine (DOCKER_HOST, else MCPD_TEST_UNIX_HOST, else the local socket) holding
the image named by MCPD_TEST_IMAGE (busybox:local). Every figure is a median over repeated runs,
shown next to a baseline measured in the same run. Everything the run creates is labelled
io.mcp-docker-server.bench=<run id> and removed by that label at the end, whatever happened.
A benchmark that fails is reported and the others still run; the exit code is then 1. Missed
targets do not change the exit code: this measures, it does not gate.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import anyio
import busy_latency
import cold_start
import container_logs
import http_concurrency
import list_containers
import peak_rss
import tool_list
from _engine import Fixtures
from _suite import BenchResult, Row, Suite

Benchmark = Callable[[Suite], Awaitable[BenchResult]]

# In run order; peak-rss goes last so it can report the highest peak of every server spawned.
BENCHMARKS: dict[str, Benchmark] = {
    cold_start.NAME: cold_start.run,
    tool_list.NAME: tool_list.run,
    list_containers.NAME: list_containers.run,
    container_logs.NAME: container_logs.run,
    busy_latency.NAME: busy_latency.run,
    http_concurrency.NAME: http_concurrency.run,
    peak_rss.NAME: peak_rss.run,
}
RESULTS = Path(__file__).resolve().parent / "results"


def _names(value: str) -> list[str]:
    names = [name.strip().replace("_", "-") for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier)")
    parser.add_argument(
        "--only", type=_names, default=list(BENCHMARKS), help="NAME[,NAME]: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "summary.json", help="JSON summary path")
    default_host = (
        os.environ.get("DOCKER_HOST")
        or os.environ.get("MCPD_TEST_UNIX_HOST")
        or "unix:///var/run/docker.sock"
    )
    parser.add_argument("--host", default=default_host, help="engine address (unix:// only)")
    parser.add_argument("--image", default=os.environ.get("MCPD_TEST_IMAGE", "busybox:local"))
    return parser.parse_args(argv)


def _number(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value:,.0f} B" if value < 1024 else f"{value:,.0f} B ({value / 1024:.1f} KiB)"
    if unit in ("tokens", "calls/s"):
        return f"{value:,.0f} {unit}"
    if unit == "requests":
        return f"{value:g} {'request' if value == 1 else 'requests'}"
    return f"{value:,.1f} {unit}"


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| benchmark | measured | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        measured = _number(row.measured, row.unit) + (f" ({row.note})" if row.note else "")
        baseline = (
            "n/a" if row.baseline is None else f"{_number(row.baseline, row.unit)}: {row.baseline_label}"
        )
        ratio = "n/a" if row.ratio is None else f"{row.ratio:.2f}x"
        met = "n/a" if row.met is None else ("yes" if row.met else "no")
        lines.append(f"| {row.benchmark} | {measured} | {baseline} | {ratio} | {row.target} | {met} |")
    return "\n".join(lines)


async def _run_selected(suite: Suite, names: Sequence[str]) -> tuple[dict[str, BenchResult], dict[str, str]]:
    results: dict[str, BenchResult] = {}
    errors: dict[str, str] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            results[name] = await BENCHMARKS[name](suite)
        except Exception as exc:
            # One broken benchmark must not hide the others' figures.
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return results, errors


def _summary(args: argparse.Namespace, suite: Suite, results: dict[str, BenchResult]) -> dict[str, object]:
    return {
        "run_id": suite.run_id,
        "quick": suite.quick,
        "benchmarks": args.only,
        "host": suite.host,
        "image": suite.image,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average": os.getloadavg(),
        },
        "rows": [{**asdict(row), "ratio": row.ratio} for result in results.values() for row in result.rows],
        "details": {name: result.details for name, result in results.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    fixtures = Fixtures(args.host, args.image, run_id)
    suite = Suite(run_id=run_id, host=args.host, image=args.image, quick=args.quick, fixtures=fixtures)
    started = time.perf_counter()
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    try:
        engine_version = fixtures.engine_version()
        results, errors = anyio.run(_run_selected, suite, args.only)
    finally:
        cleanup = fixtures.cleanup()
        fixtures.close()
        print(f"cleanup (label io.mcp-docker-server.bench={run_id}): {cleanup}", file=sys.stderr)
    summary = _summary(args, suite, results)
    summary.update(
        started_at=started_at,
        engine_version=engine_version,
        errors=errors,
        cleanup=cleanup,
        seconds=round(time.perf_counter() - started, 1),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    rows = [row for result in results.values() for row in result.rows]
    print(markdown_table(rows))
    for result in results.values():
        if result.markdown:
            print("\n" + result.markdown)
    for name, error in errors.items():
        print(f"\n{name} FAILED: {error}")
    print(f"\nrun {run_id}, {'quick' if suite.quick else 'full'}, {summary['seconds']} s; JSON: {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
