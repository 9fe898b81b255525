"""Schema-driven fuzzing: 1,000 generated calls per tool, from each tool's own input schema.

The server points at an engine that is not there, so every path up to the engine runs with no
side effect. Each call must come back as a result (a success or an isError), never a crash, a
protocol error or a hang past the deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import settings_for

EXAMPLES = 1000
DEADLINE = 10.0


@pytest.fixture(scope="module")
def fuzz_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BlockingPortal, Client, dict[str, Any]]]:
    absent = tmp_path_factory.mktemp("fuzz") / "no-engine.sock"
    server = build_server(
        settings_for(f"unix://{absent}", DOCKER_TIMEOUT="2", MCP_DOCKER_CONFIRM="client-approval")
    )
    with start_blocking_portal() as portal:
        client = portal.wrap_async_context_manager(Client(server))
        with client as opened:
            tools = portal.call(opened.list_tools).tools
            yield portal, opened, {tool.name: tool.input_schema for tool in tools}


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:  # noqa: C901
    """Values that follow a JSON schema (the subset the SDK emits), often at its edges."""
    root = root or schema
    if "$ref" in schema:
        return from_schema(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, root) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 300), 300))
    if kind == "integer":
        return st.integers(
            schema.get("minimum", schema.get("exclusiveMinimum", -(2**40))), schema.get("maximum", 2**40)
        )
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        return st.floats(
            min_value=low,
            max_value=schema.get("maximum"),
            allow_nan=False,
            allow_infinity=False,
            exclude_min="exclusiveMinimum" in schema,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), root), max_size=5)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        values = from_schema(extra, root) if isinstance(extra, dict) else st.text(max_size=20)
        fixed = st.fixed_dictionaries(
            {k: from_schema(v, root) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, root) for k, v in properties.items() if k not in required},
        )
        if properties:
            return fixed
        return st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=5)
    return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


def tool_names() -> list[str]:
    async def names() -> list[str]:
        async with Client(build_server(settings_for("unix:///nonexistent.sock"))) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)

    return anyio.run(names)


@pytest.mark.parametrize("tool", tool_names())
def test_generated_calls_never_crash_or_hang(
    fuzz_client: tuple[BlockingPortal, Client, dict[str, Any]], tool: str, tmp_path: Path
) -> None:
    portal, client, schemas = fuzz_client
    outcomes = {"ok": 0, "error": 0}

    async def call(arguments: dict[str, Any]) -> bool:
        with anyio.fail_after(DEADLINE):
            result = await client.call_tool(tool, arguments)
        return bool(result.is_error)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(arguments=from_schema(schemas[tool]) | st.dictionaries(st.text(max_size=8), st.text(max_size=8)))
    def check(arguments: dict[str, Any]) -> None:
        is_error = portal.call(call, arguments)
        outcomes["error" if is_error else "ok"] += 1

    check()
    assert sum(outcomes.values()) >= EXAMPLES
