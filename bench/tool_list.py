"""Benchmark: what the tool list costs in a model's context, per tool and in total.

    python bench/tool_list.py      (same as: python bench/run.py --only tool-list)

The default list (one engine that is not a swarm manager, the default policy) is measured as
the client receives it (name, title, description, inputSchema, outputSchema, annotations),
dumped with `model_dump(mode="json", by_alias=True, exclude_none=True)` and serialized
compactly. Tokens are counted with OpenAI's o200k_base encoding (gpt-tokenizer, pinned in
tests/clients, run with node); without node or that package, bytes / 4 stands in and the row
says so. Baseline: the same tools cut to name, description and inputSchema, which is what most
hosts actually put in front of the model; the ratio is the price of the other fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _suite import BenchResult, Row, Suite, stdio_server
from mcp import Client
from mcp.types import Tool

NAME = "tool-list"
TOKEN_BUDGET = 4000
COUNTER = Path(__file__).resolve().parents[1] / "tests" / "clients" / "count-tokens.cjs"
FULL_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
CALL_FIELDS = ("name", "description", "inputSchema")


def definition_bytes(tool: Tool, fields: tuple[str, ...]) -> int:
    dumped = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    kept = {key: dumped[key] for key in fields if key in dumped}
    return len(json.dumps(kept, separators=(",", ":")).encode())


def tokens(size: int) -> int:
    return round(size / 4)


def o200k(text: str) -> int | None:
    """Tokens of ``text`` by o200k_base, or None when node or gpt-tokenizer is missing."""
    try:
        done = subprocess.run(["node", str(COUNTER)], input=text, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


async def all_tools(client: Client) -> list[Tool]:
    """Every page of tools/list (the server may paginate)."""
    tools: list[Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def _per_tool_markdown(sizes: list[tuple[str, int, int]]) -> str:
    lines = [
        "| tool | bytes | ~tokens (bytes/4) | name+description+inputSchema bytes |",
        "|---|---:|---:|---:|",
    ]
    for name, full, call in sorted(sizes, key=lambda item: -item[1]):
        lines.append(f"| `{name}` | {full:,} | {tokens(full):,} | {call:,} |")
    total, call_total = sum(s[1] for s in sizes), sum(s[2] for s in sizes)
    lines.append(f"| **total ({len(sizes)} tools)** | {total:,} | {tokens(total):,} | {call_total:,} |")
    return "\n".join(lines)


async def run(suite: Suite) -> BenchResult:
    async with stdio_server(suite, NAME) as server:
        tools = await all_tools(server.client)
    sizes = [(t.name, definition_bytes(t, FULL_FIELDS), definition_bytes(t, CALL_FIELDS)) for t in tools]
    total = sum(full for _, full, _ in sizes)
    call_total = sum(call for _, _, call in sizes)
    full_text = json.dumps(
        [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], separators=(",", ":")
    )
    call_text = json.dumps(
        [
            {
                k: v
                for k, v in t.model_dump(mode="json", by_alias=True, exclude_none=True).items()
                if k in CALL_FIELDS
            }
            for t in tools
        ],
        separators=(",", ":"),
    )
    counted, call_counted = o200k(full_text), o200k(call_text)
    how = "o200k" if counted is not None and call_counted is not None else "bytes/4: no tokenizer"
    measured = counted if counted is not None else tokens(total)
    baseline = call_counted if call_counted is not None else tokens(call_total)
    row = Row(
        benchmark=f"tool list (default): {len(tools)} tool definitions, tokens ({how})",
        measured=measured,
        unit="tokens",
        baseline=baseline,
        baseline_label="same tools, name+description+inputSchema only",
        target=f"<= {TOKEN_BUDGET:,} tokens",
        met=measured <= TOKEN_BUDGET,
        note=f"{total:,} bytes",
    )
    details: dict[str, object] = {
        "tools": len(tools),
        "total_bytes": total,
        "total_tokens_approx": tokens(total),
        "call_fields_bytes": call_total,
        "tokens": measured,
        "token_count": how,
        "per_tool": {name: {"bytes": full, "call_fields_bytes": call} for name, full, call in sizes},
    }
    return BenchResult([row], details, _per_tool_markdown(sizes))


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))
