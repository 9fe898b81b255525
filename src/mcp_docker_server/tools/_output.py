"""What tools hand back: compact results, slim schemas, and live progress."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel
from pydantic_core import to_json

from mcp_docker_server.policy import Policy
from mcp_docker_server.policy.exposure import action_allowed
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.results.shaping import redact_data

__all__ = [
    "compact_result",
    "compact_text",
    "inline_refs",
    "line_progress",
    "offered_actions",
    "read_only_annotations",
    "slim_schema",
    "with_progress",
]

R = TypeVar("R")


# Fields the operator chose to show as they are (show_join_tokens): never redacted.
_SHOWN_AS_IS = frozenset({"join_tokens"})


def compact_text(model: BaseModel) -> str:
    """The compact JSON text of ``model``, redacted as :func:`compact_result` redacts (the
    resources hand out the same text)."""
    brief = model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return to_json(redact_data(brief, keep=_SHOWN_AS_IS), inf_nan_mode="null").decode()


def compact_result(model: BaseModel) -> CallToolResult:
    """Structured content in full; the text the model reads is one line of JSON without the
    nulls, empty lists and default flags (the SDK's own rendering is indented and complete).
    This is where every tool result leaves the server: both are redacted here
    (:func:`shaping.redact_data`), whatever the tool read and however it shaped it."""
    full, brief = redact_data(
        [
            model.model_dump(mode="json"),
            model.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        ],
        keep=_SHOWN_AS_IS,
    )
    text = to_json(brief, inf_nan_mode="null").decode()  # what model_dump_json writes
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=full)


def slim_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema in fewer tokens: no ``title`` annotations (a property *named* title
    survives), no ``"default": null``, ``"default": false`` or ``"additionalProperties": true``
    (what an absent key means anyway), no string length bounds (names and references the model
    writes are far inside them) nor lower bounds of 0 or 1 (counts and seconds; a call below
    them gets an error that names the bound), and ``anyOf [X, null]`` written as X. An optional argument is
    simply not required; the server still accepts an explicit null. Only the published copy
    changes: arguments are still validated against the full model.

    The result is self-contained, as every client can read it: ``$ref``s are replaced by the
    definitions they point to and ``$defs`` dropped, and an array always says its ``items``."""

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
            and not (k in ("minimum", "exclusiveMinimum") and v in (0, 1) and v is not True)
        }
        if out.get("type") == "array" and "items" not in out:
            out["items"] = {}
        options = out.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out["anyOf"]
            if len(rest) == 1 and isinstance(rest[0], dict) and not (set(rest[0]) & set(out)):
                out = {**rest[0], **out}
            elif rest:
                out["anyOf"] = rest
        return out

    result: dict[str, Any] = walk(inline_refs(schema))
    return result


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every local ``$ref`` replaced by a copy of its definition (keywords beside
    the ``$ref``, such as a description, win) and no ``$defs``. A definition that refers to
    itself is cut to a plain object at its second appearance, so the result is finite.

    Raises:
        KeyError: a ``$ref`` names a definition the schema does not have.
    """
    definitions: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, open_refs: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, open_refs) for item in node]
        if not isinstance(node, dict):
            return node
        rest = {k: resolve(v, open_refs) for k, v in node.items() if k not in ("$ref", "$defs")}
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return rest
        name = ref.removeprefix("#/$defs/")
        if name in open_refs:
            return {"type": "object", **rest}
        return {**resolve(definitions[name], open_refs | {name}), **rest}

    result: dict[str, Any] = resolve(schema, frozenset())
    return result


def offered_actions(
    schema: dict[str, Any],
    tool: str,
    read_actions: Collection[str],
    read_only_tool: bool,
    policies: Iterable[Policy],
) -> list[str] | None:
    """The actions of an action-routed tool that some engine's policy allows (read-only mode,
    ``deny_actions``, ``allow_tools``/``deny_tools``), in the schema's order; None for a tool
    without an ``action`` enum. The guard still judges each call on its own engine."""
    action = schema.get("properties", {}).get("action")
    if not isinstance(action, dict) or not isinstance(action.get("enum"), list):
        return None
    allowed = {
        a
        for policy in policies
        for a in action["enum"]
        if action_allowed(policy, tool, a, read_actions=read_actions, read_only_tool=read_only_tool)
    }
    return [a for a in action["enum"] if a in allowed]


def read_only_annotations(annotations: ToolAnnotations) -> ToolAnnotations:
    """The annotations of a tool the policy has left with only read actions."""
    return annotations.model_copy(
        update={"read_only_hint": True, "destructive_hint": None, "idempotent_hint": None}
    )


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
