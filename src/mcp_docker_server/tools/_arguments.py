"""Argument errors a model can act on.

The SDK validates a call's arguments before the tool runs and, on failure, answers with the
validation library's own report (its model name, error codes and a documentation URL). Tools
here are :class:`ArgumentCheckedTool`, which answers instead with one line per argument: where
the problem is, what was given, and what is expected with a short example of the right shape,
all read from the tool's published input schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError
from pydantic_core import ErrorDetails

__all__ = ["ArgumentCheckedTool", "argument_errors", "example_of", "shape_of"]

_MAX_LINES = 5
# How pydantic names a union's branches in an error's location.
_BRANCH = re.compile(
    r"(?:str|int|float|bool|none|bytes|(?:list|dict|tuple|set|frozenset)\[.*\]|[A-Z]\w*|function-\w+\[.*\])"
)
_SCALAR_EXAMPLES: dict[str, Any] = {"string": "text", "integer": 1, "number": 1, "boolean": True}


class ArgumentCheckedTool(Tool):
    """A tool whose argument validation errors name the argument, the expected shape and an
    example (and nothing of the implementation)."""

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        """Run as :meth:`Tool.run` does.

        Raises:
            ToolError: the arguments do not fit the schema (a readable message), or the tool failed.
        """
        known = set(self.parameters.get("properties", {})) | {"engine"}
        unknown = sorted(set(arguments) - known)
        if unknown:
            # The argument model would drop them silently, and the model would believe a
            # misspelt argument (``tial``) took effect.
            raise ToolError(
                f"Invalid arguments for {self.name}: {', '.join(unknown)} "
                f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'} of this tool; "
                f"its arguments are {', '.join(self.parameters.get('properties', {}))}."
            )
        try:
            return await super().run(arguments, context, convert_result)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            # Chained to the validation error: the server logs its field names only.
            raise ToolError(argument_errors(self.name, cause.errors(), self.parameters, arguments)) from cause


def argument_errors(
    tool: str, errors: Sequence[ErrorDetails], schema: Mapping[str, Any], arguments: Mapping[str, Any]
) -> str:
    """One readable line per argument that failed, from the published ``schema``."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    lines: dict[str, str] = {}
    for error in errors:
        loc = list(error["loc"])
        if not loc:
            continue
        name = str(loc[0])
        if name in lines:
            continue  # one line per argument: the other errors are the same mistake seen by a union
        lines[name] = _line(name, loc, error, properties.get(name), arguments)
    shown = list(lines.values())[:_MAX_LINES]
    more = len(lines) - len(shown)
    text = f"Invalid arguments for {tool}: " + " ".join(shown)
    if more > 0:
        text += f" ({more} more argument(s) are wrong too.)"
    return text


def _line(
    name: str, loc: list[int | str], error: ErrorDetails, node: Any, arguments: Mapping[str, Any]
) -> str:
    path, given = _path(loc, arguments)
    kind = error["type"]
    if node is None:
        return f"{name} is not an argument of this tool."
    expected = f"{name} expects {shape_of(node)}, e.g. {json.dumps(example_of(node))}"
    if isinstance(node.get("description"), str):
        expected += f" ({node['description'].rstrip('.')})"
    expected += "."
    if kind == "missing" and path == name:
        return f"{name} is required: {expected}"
    if kind == "missing":
        return f"{path} is missing; {expected}"
    if kind == "extra_forbidden":
        return f"{path} is not a known key; {expected}"
    problem = _problem(error) if kind not in ("literal_error", "enum") else None
    if problem:
        return f"{path} is {_given(given)} but {problem}; {expected}"
    return f"{path} is {_given(given)}; {expected}"


def _problem(error: ErrorDetails) -> str | None:
    """The constraint a value broke, for errors that are about its size rather than its type."""
    message = str(error.get("msg", ""))
    if not message.startswith("Input should be") or "valid" in message:
        return None
    return "must be " + message.removeprefix("Input should be ").strip()


def _path(loc: list[int | str], arguments: Mapping[str, Any]) -> tuple[str, Any]:
    """The location as the caller wrote it (``options.driver_opts``, ``volumes[0]``) and the
    value found there; steps that name a branch of a union, not a key, are left out."""
    path = str(loc[0])
    current: Any = arguments.get(str(loc[0]))
    for part in loc[1:]:
        if (
            isinstance(part, str)
            and _BRANCH.fullmatch(part)
            and not (isinstance(current, Mapping) and part in current)
        ):
            continue  # pydantic names the union branch it tried ("str", "list[str]"), not a key
        if isinstance(current, Mapping) and isinstance(part, str) and part in current:
            path += f".{part}"
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path += f"[{part}]"
            current = current[part]
        elif isinstance(current, Mapping) and part == loc[-1]:
            path += f".{part}"  # a missing or unknown key
            current = None
    return path, current


def _given(value: Any) -> str:
    if value is None:
        return "null or absent"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the string {json.dumps(shown)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a value of another type"


def shape_of(node: Mapping[str, Any], depth: int = 0) -> str:
    """The shape a schema node expects, in a few words."""
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list):
        return " or ".join(shape_of(o, depth + 1) for o in options)
    kind = node.get("type")
    if kind == "string":
        return "a string"
    if kind in ("integer", "number"):
        return ("an integer" if kind == "integer" else "a number") + _bounds(node)
    if kind == "boolean":
        return "true or false"
    if kind == "null":
        return "null"
    if kind == "array":
        items = node.get("items") or {}
        return "a list" if depth > 1 or not items else f"a list, each item {shape_of(items, depth + 1)}"
    if kind == "object" or "properties" in node:
        properties = node.get("properties") or {}
        if properties:
            required = [k for k in node.get("required", []) if k in properties]
            keys = ", ".join(properties)
            return f"an object with keys {keys}" + (f" ({', '.join(required)} required)" if required else "")
        values = node.get("additionalProperties")
        if isinstance(values, Mapping) and values and depth <= 1:
            return f"an object, each value {shape_of(values, depth + 1)}"
        return "an object"
    return "a value"


def _bounds(node: Mapping[str, Any]) -> str:
    parts = []
    if "minimum" in node:
        parts.append(f"at least {node['minimum']}")
    if "exclusiveMinimum" in node:
        parts.append(f"above {node['exclusiveMinimum']}")
    if "maximum" in node:
        parts.append(f"at most {node['maximum']}")
    if "exclusiveMaximum" in node:
        parts.append(f"below {node['exclusiveMaximum']}")
    return " " + " and ".join(parts) if parts else ""


def example_of(node: Mapping[str, Any], depth: int = 0) -> Any:
    """A small value of the shape a schema node expects."""
    if node.get("enum"):
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    if "default" in node and node["default"] not in (None, False, [], {}):
        return node["default"]
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list) and options:
        return example_of(options[0], depth)
    kind = node.get("type")
    if kind in _SCALAR_EXAMPLES:
        return max(node.get("minimum", 1), 1) if kind in ("integer", "number") else _SCALAR_EXAMPLES[kind]
    if kind == "array":
        items = node.get("items") or {"type": "string"}
        return [example_of(items, depth + 1)] if depth < 3 else []
    if kind == "object" or "properties" in node:
        if depth >= 3:
            return {}
        properties: Mapping[str, Any] = node.get("properties") or {}
        if properties:
            chosen = [k for k in node.get("required", []) if k in properties] or list(properties)[:1]
            return {k: example_of(properties[k], depth + 1) for k in chosen}
        values = node.get("additionalProperties")
        if isinstance(values, Mapping) and values:
            return {"key": example_of(values, depth + 1)}
        return {"key": "value"}
    return "value"
