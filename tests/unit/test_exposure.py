"""The one exposure rule (policy.exposure): tools, actions, read-only mode."""

from __future__ import annotations

from dataclasses import replace

from mcp_docker_server.policy import Policy
from mcp_docker_server.policy.exposure import action_allowed, exposure_refusal, tool_exposed


def test_allow_and_deny_tools_decide_which_tools_exist() -> None:
    assert tool_exposed(Policy(), "run-container")
    assert not tool_exposed(replace(Policy(), deny_tools=("run-container",)), "run-container")
    only = replace(Policy(), allow_tools=("list-containers",))
    assert tool_exposed(only, "list-containers")
    assert not tool_exposed(only, "run-container")


def test_read_only_mode_keeps_reads_and_refuses_the_rest() -> None:
    policy = replace(Policy(), read_only=True)
    reads = ("ps", "logs")
    assert action_allowed(policy, "compose-stack", "ps", read_actions=reads, read_only_tool=False)
    denied = exposure_refusal(policy, "compose-stack", "up", read_actions=reads, read_only_tool=False)
    assert denied is not None
    assert denied.rule == "read-only"
    assert "read actions still work: logs, ps" in str(denied)
    assert action_allowed(policy, "list-containers", None, read_actions=(), read_only_tool=True)


def test_deny_actions_by_name_or_wildcard() -> None:
    one = replace(Policy(), deny_actions=("image-operations:push",))
    assert not action_allowed(one, "image-operations", "push", read_actions=(), read_only_tool=False)
    assert action_allowed(one, "image-operations", "pull", read_actions=(), read_only_tool=False)
    every = replace(Policy(), deny_actions=("image-operations:*",))
    refusal = exposure_refusal(
        every, "image-operations", "list", read_actions=("list",), read_only_tool=False
    )
    assert refusal is not None
    assert refusal.rule == "denied-action"


def test_a_denied_tool_is_refused_even_when_called() -> None:
    """With several engines a tool can be published for one engine and denied on another."""
    refusal = exposure_refusal(
        replace(Policy(), deny_tools=("exec-container",)),
        "exec-container",
        None,
        read_actions=(),
        read_only_tool=False,
    )
    assert refusal is not None
    assert refusal.rule == "denied-tool"
