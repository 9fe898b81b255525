"""What tools hand back: compact results, slim schemas, and live progress."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from mcp_docker_server.progress import Progress

__all__ = ["compact_result", "line_progress", "slim_schema", "with_progress"]

R = TypeVar("R")


def compact_result(model: BaseModel) -> CallToolResult:
    """Structured content in full; the text the model reads is one line of JSON without the
    nulls, empty lists and default flags (the SDK's own rendering is indented and complete)."""
    text = model.model_dump_json(exclude_none=True, exclude_defaults=True)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def slim_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema in fewer tokens: no ``title`` annotations (a property *named* title
    survives), no ``"default": null``, ``"default": false`` or ``"additionalProperties": true``
    (what an absent key means anyway), no string length bounds (names and references the model
    writes are far inside them), and ``anyOf [X, null]`` written as X. An optional argument is
    simply not required; the server still accepts an explicit null. Only the published copy
    changes: arguments are still validated against the full model."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {
            k: walk(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
            and not (k == "default" and (v is None or v is False))
            and not (k == "additionalProperties" and v is True)  # JSON Schema's default
            and not (k in ("minLength", "maxLength") and isinstance(v, int))
        }
        options = out.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out["anyOf"]
            if len(rest) == 1 and isinstance(rest[0], dict) and not (set(rest[0]) & set(out)):
                out = {**rest[0], **out}
            elif rest:
                out["anyOf"] = rest
        return out

    result: dict[str, Any] = walk(schema)
    return result


async def with_progress(ctx: Context[Any], progress: Progress, work: Awaitable[R]) -> R:
    """Await ``work`` while relaying ``progress`` to the client: on every change, and at least
    once a second while nothing changes (so a client can tell slow from stuck)."""

    async def relay() -> None:
        sent_version, sent_at = -1, 0.0
        while True:
            snap = progress.snapshot()
            now = time.monotonic()
            if snap.version != sent_version or now - sent_at >= 1:
                elapsed = int(now - progress.started)
                await ctx.report_progress(snap.done, snap.total, f"{snap.message} ({elapsed}s)")
                sent_version, sent_at = snap.version, now
            await anyio.sleep(0.25)

    # The failure is carried out of the task group by hand: raised inside it, it would come
    # out wrapped in an ExceptionGroup and lose its readable message.
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(relay)
        try:
            result = await work
        except Exception as exc:  # noqa: BLE001 - re-raised unchanged below
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


def line_progress(ctx: Context[Any]) -> Callable[[str], Awaitable[None]]:
    """A callback that relays each line a subprocess prints as one more step of MCP progress."""
    steps = 0

    async def progress(line: str) -> None:
        nonlocal steps
        steps += 1
        await ctx.report_progress(steps, None, line)

    return progress
