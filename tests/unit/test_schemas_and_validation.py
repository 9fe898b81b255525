"""The published tool list (issue 16): self-contained input schemas every client can read, only
the actions the policy allows, and argument errors a model can act on. The server is built in
memory; nothing here reaches an engine (every call fails validation before a tool runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.server import build_server
from mcp_docker_server.tools._arguments import example_of, shape_of
from mcp_docker_server.tools._output import inline_refs, slim_schema

pytestmark = pytest.mark.anyio

NOWHERE = "unix:///nonexistent/docker.sock"
IMPLEMENTATION_WORDS = (
    "pydantic",
    "validation error",
    "Arguments",
    "errors.pydantic.dev",
    "input_value",
    "type=",
)


async def published(**extra: str) -> list[Tool]:
    settings = load_settings({"DOCKER_HOST": NOWHERE, **extra})
    async with Client(build_server(settings)) as client:
        return (await client.list_tools()).tools


def nodes(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            yield from nodes(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from nodes(value, f"{path}/{index}")


def policy(tmp_path: Path, body: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(body)
    return str(path)


# --------------------------------------------------------------------------- 9: schemas


@pytest.mark.parametrize("mode", ["default", "read-only"])
async def test_every_published_input_schema_is_self_contained(mode: str, tmp_path: Path) -> None:
    extra = {"MCP_DOCKER_POLICY_FILE": policy(tmp_path, "read_only = true\n")} if mode == "read-only" else {}
    tools = await published(**extra)
    assert len(tools) >= 10
    broken: list[str] = []
    for tool in tools:
        schema = tool.input_schema
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            broken.append(f"{tool.name}: the root is not an object with properties")
        broken += [f"{tool.name}: top-level {key}" for key in ("anyOf", "oneOf", "allOf") if key in schema]
        for path, node in nodes(schema):
            broken += [f"{tool.name}{path}: {key}" for key in ("$ref", "$defs", "definitions") if key in node]
            if node.get("type") == "array" and not node.get("items"):
                broken.append(f"{tool.name}{path}: an array without items")
    assert not broken, "\n".join(broken)


def test_references_are_inlined_with_their_siblings_and_recursion_is_cut() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Auth": {"type": "object", "properties": {"user": {"type": "string"}}},
            "Tree": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Tree"}}},
        },
        "properties": {
            "auth": {"$ref": "#/$defs/Auth", "description": "Credentials."},
            "tree": {"$ref": "#/$defs/Tree"},
            "tags": {"type": "array"},
        },
    }
    inlined = inline_refs(schema)
    assert "$defs" not in inlined
    assert inlined["properties"]["auth"] == {
        "type": "object",
        "properties": {"user": {"type": "string"}},
        "description": "Credentials.",
    }
    assert inlined["properties"]["tree"]["properties"]["child"] == {"type": "object"}
    assert slim_schema(schema)["properties"]["tags"] == {"type": "array", "items": {}}


# --------------------------------------------------------------------------- 10: the policy in the list


async def test_read_only_mode_publishes_only_read_actions_and_read_only_annotations(tmp_path: Path) -> None:
    tools = {
        t.name: t for t in await published(MCP_DOCKER_POLICY_FILE=policy(tmp_path, "read_only = true\n"))
    }
    actions = {name: t.input_schema["properties"].get("action", {}).get("enum") for name, t in tools.items()}
    assert actions["image-operations"] == ["list", "inspect", "history"]
    assert actions["volume-management"] == ["list", "inspect"]
    assert actions["network-management"] == ["list", "inspect"]
    assert actions["docker-system"] == ["engines", "info", "version", "df", "events"]
    assert set(actions["compose-stack"]) == {"ps", "logs", "config", "validate"}
    for tool in tools.values():
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True, tool.name
        assert not tool.annotations.destructive_hint, tool.name


async def test_denied_actions_are_not_offered_and_a_tool_left_with_none_is_not_listed(tmp_path: Path) -> None:
    denied = '"manage-container:kill", "image-operations:*", "volume-management:prune"'
    body = f"[exposure]\ndeny_actions = [{denied}]\n"
    tools = {t.name: t for t in await published(MCP_DOCKER_POLICY_FILE=policy(tmp_path, body))}
    assert "image-operations" not in tools
    manage = tools["manage-container"]
    assert "kill" not in manage.input_schema["properties"]["action"]["enum"]
    assert "remove" in manage.input_schema["properties"]["action"]["enum"]
    assert manage.annotations is not None
    assert manage.annotations.destructive_hint is None  # absent: the spec's default, destructive
    volumes = tools["volume-management"].input_schema["properties"]["action"]["enum"]
    assert volumes == ["create", "remove", "list", "inspect"]
    every = {t.name: t for t in await published()}
    assert "kill" in every["manage-container"].input_schema["properties"]["action"]["enum"]


# --------------------------------------------------------------------------- 11: argument errors


async def call(tool: str, arguments: dict[str, Any]) -> str:
    async with Client(build_server(load_settings({"DOCKER_HOST": NOWHERE}))) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    block = result.content[0]
    assert block.type == "text"
    return block.text


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (
            "volume-management",
            {"name": "v", "action": "create", "options": {"driver_opts": {"type": "nfs"}}},
            [
                "options.driver_opts is an object; options expects an object, each value a string",
                'e.g. {"key": "text"}',
            ],
        ),
        (
            "volume-management",
            {"name": "v", "action": "explode"},
            ['action is the string "explode"; action expects one of "create"'],
        ),
        (
            "container-logs",
            {"tail": 0},
            ["container_id is required", "tail is the number 0 but must be greater"],
        ),
        ("list-containers", {"limit": "many"}, ['limit is the string "many"', "e.g. 50"]),
        (
            "run-container",
            {"image": "busybox", "volumes": [{"host_path": "/srv"}]},
            ["volumes[0].container_path is missing", 'e.g. [{"container_path": "text"}]'],
        ),
    ],
)
async def test_argument_errors_name_the_argument_and_show_the_right_shape(
    tool: str, arguments: dict[str, Any], says: list[str]
) -> None:
    text = await call(tool, arguments)
    assert text.startswith(f"Invalid arguments for {tool}: ")
    for part in says:
        assert part in text
    for word in IMPLEMENTATION_WORDS:
        assert word not in text


def wrong_value(node: dict[str, Any]) -> Any:
    """A value no schema node of this server accepts at that place."""
    return {"not": ["what", "was", "asked"]} if node.get("type") != "object" else [[1.5]]


async def test_every_tool_answers_wrong_arguments_in_words_a_model_can_act_on() -> None:
    async with Client(build_server(load_settings({"DOCKER_HOST": NOWHERE}))) as client:
        for stub in (await client.list_tools()).tools:
            if not stub.input_schema["properties"]:  # an optional tool: listed in full once called
                assert (await client.call_tool(stub.name, {})).is_error
        tools = (await client.list_tools()).tools
        assert all(t.input_schema["properties"] for t in tools)
        for tool in tools:
            properties: dict[str, Any] = tool.input_schema["properties"]
            first = next(iter(properties))
            result = await client.call_tool(tool.name, {first: wrong_value(properties[first])})
            assert result.is_error, tool.name
            block = result.content[0]
            assert block.type == "text"
            text = block.text
            assert text.startswith(f"Invalid arguments for {tool.name}: "), text
            assert f"{first} " in text
            assert "e.g." in text
            for word in IMPLEMENTATION_WORDS:
                assert word not in text, (tool.name, text)


def test_shapes_and_examples_read_from_the_schema() -> None:
    node = {"type": "object", "additionalProperties": {"type": "string"}}
    assert (shape_of(node), example_of(node)) == ("an object, each value a string", {"key": "text"})
    ranged = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    assert (shape_of(ranged), example_of(ranged)) == ("an integer at least 1 and at most 500", 50)
    either = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    assert shape_of(either) == "a string or a list, each item a string"
    assert example_of({"enum": ["pull", "push"], "type": "string"}) == "pull"


async def test_an_unknown_argument_is_refused_not_dropped() -> None:
    """A misspelt argument would otherwise be ignored and the call run without it."""
    settings = load_settings({"DOCKER_HOST": "unix:///nonexistent.sock"})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("container-logs", {"container_id": "x", "tial": 5})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "tial is not an argument of this tool" in text
    assert "container_id, tail" in text
