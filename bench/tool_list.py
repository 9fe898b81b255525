"""Benchmark: what the tool list costs in a model's context, per tool and in total.

    python bench/tool_list.py      (same as: python bench/run.py --only tool-list)

Each tool definition is measured as the client receives it (name, title, description,
inputSchema, outputSchema, annotations), dumped with `model_dump(mode="json", by_alias=True,
exclude_none=True)` and serialized compactly. Tokens are approximated as bytes / 4 (no
tokenizer is installed; real counts for JSON schemas tend to be somewhat higher).
Baseline: the same tools cut to name, description and inputSchema, which is what most hosts
actually put in front of the model; the ratio is the price of the other fields.
"""

from __future__ import annotations

import json
import sys

from _suite import BenchResult, Row, Suite, stdio_server
from mcp import Client
from mcp.types import Tool

NAME = "tool-list"
TOKEN_BUDGET = 5000
FULL_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
CALL_FIELDS = ("name", "description", "inputSchema")


def definition_bytes(tool: Tool, fields: tuple[str, ...]) -> int:
    dumped = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    kept = {key: dumped[key] for key in fields if key in dumped}
    return len(json.dumps(kept, separators=(",", ":")).encode())


def tokens(size: int) -> int:
    return round(size / 4)


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
    row = Row(
        benchmark=f"tool list: {len(tools)} tool definitions, ~tokens (bytes/4)",
        measured=tokens(total),
        unit="tokens",
        baseline=tokens(call_total),
        baseline_label="same tools, name+description+inputSchema only",
        target=f"<= {TOKEN_BUDGET:,} tokens",
        met=tokens(total) <= TOKEN_BUDGET,
        note=f"{total:,} bytes",
    )
    details: dict[str, object] = {
        "tools": len(tools),
        "total_bytes": total,
        "total_tokens_approx": tokens(total),
        "call_fields_bytes": call_total,
        "token_estimate": "bytes / 4",
        "per_tool": {name: {"bytes": full, "call_fields_bytes": call} for name, full, call in sizes},
    }
    return BenchResult([row], details, _per_tool_markdown(sizes))


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))
