"""Confirmations (elicitation accept / decline / cancel / no capability, both protocol eras),
read-only mode, tool and action gating, injected defaults, image allowlist, the audit file."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

Callback = Callable[[Any, ElicitRequestParams], Awaitable[ElicitResult]]


async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


async def cancel(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="cancel")


async def say_no(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": False})


def container_named(docker_client: docker.DockerClient, name: str) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"name": f"^{name}$"})


@pytest.fixture
def victim(docker_client: docker.DockerClient, test_image: str, unique_name: str) -> Any:
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], name=unique_name, detach=True, labels={LABEL_KEY: RUN_ID}
    )
    yield container
    for leftover in container_named(docker_client, unique_name):
        leftover.remove(force=True)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    ("callback", "removed", "said"),
    [
        (accept_all, True, None),
        (decline, False, "did not confirm (decline)"),
        (cancel, False, "did not confirm (cancel)"),
        (say_no, False, "did not confirm"),
        (None, False, "cannot ask for it"),
    ],
)
async def test_remove_asks_first_in_both_eras(
    unix_host: str,
    victim: Any,
    docker_client: docker.DockerClient,
    mode: str,
    callback: Callback | None,
    removed: bool,
    said: str | None,
) -> None:
    extra = {"elicitation_callback": callback} if callback else {}
    async with Client(build_server(settings_for(unix_host)), mode=mode, **extra) as client:  # type: ignore[arg-type]
        result = await client.call_tool(
            "manage-container", {"container_id": victim.name, "action": "remove", "force": True}
        )
    if removed:
        assert ok(result)["state"] == "removed"
        assert container_named(docker_client, victim.name) == []
    else:
        text = error_text(result)
        assert said is not None
        assert said in text
        assert "Nothing was changed" in text
        assert container_named(docker_client, victim.name)[0].status == "running"


async def test_without_elicitation_the_refusal_names_the_operator_setting(
    unix_host: str, victim: Any
) -> None:
    async with Client(build_server(settings_for(unix_host))) as client:
        text = error_text(
            await client.call_tool("manage-container", {"container_id": victim.name, "action": "kill"})
        )
    assert "MCP_DOCKER_CONFIRM=client-approval" in text


async def test_client_approval_mode_trusts_the_clients_own_prompt(
    unix_host: str, victim: Any, docker_client: docker.DockerClient
) -> None:
    settings = settings_for(unix_host, MCP_DOCKER_CONFIRM="client-approval")
    async with Client(build_server(settings)) as client:
        ok(
            await client.call_tool(
                "manage-container", {"container_id": victim.name, "action": "remove", "force": True}
            )
        )
    assert container_named(docker_client, victim.name) == []


async def test_non_destructive_actions_do_not_ask(unix_host: str, victim: Any) -> None:
    asked: list[str] = []

    async def record(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    async with Client(build_server(settings_for(unix_host)), elicitation_callback=record) as client:
        ok(await client.call_tool("manage-container", {"container_id": victim.name, "action": "pause"}))
        ok(await client.call_tool("manage-container", {"container_id": victim.name, "action": "unpause"}))
        ok(await client.call_tool("volume-management", {"name": "*", "action": "list"}))
    assert asked == []


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("image-operations", {"image": "busybox:local", "action": "remove"}),
        ("image-operations", {"image": "*", "action": "prune"}),
        ("image-operations", {"image": "127.0.0.1:9/x:1", "action": "push"}),
        ("network-management", {"name": "bridge", "action": "remove"}),
        ("network-management", {"name": "*", "action": "prune"}),
        ("volume-management", {"name": "anything", "action": "remove"}),
        ("volume-management", {"name": "*", "action": "prune"}),
        ("compose-stack", {"compose_file": "/nonexistent.yml", "action": "down", "remove_volumes": True}),
    ],
)
async def test_every_destructive_action_asks(unix_host: str, tool: str, args: dict[str, Any]) -> None:
    asked: list[str] = []

    async def record(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    async with Client(build_server(settings_for(unix_host)), elicitation_callback=record) as client:
        text = error_text(await client.call_tool(tool, args))
    assert len(asked) == 1
    assert "Nothing was changed" in text


def write_policy(tmp_path: Path, body: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(body)
    return str(path)


async def test_read_only_mode_hides_mutating_tools_and_gates_actions(unix_host: str, tmp_path: Path) -> None:
    settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=write_policy(tmp_path, "read_only = true\n"))
    async with Client(build_server(settings)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names.isdisjoint({"run-container", "manage-container", "exec-container", "build-image"})
        assert {"list-containers", "container-logs", "image-operations", "compose-stack"} <= names
        ok(await client.call_tool("image-operations", {"image": "*", "action": "list"}))
        text = error_text(
            await client.call_tool(
                "image-operations", {"image": "busybox:local", "action": "tag", "new_tag": "x:y"}
            )
        )
        assert "policy rule 'read-only'" in text
        assert "read_only = false" in text
        unknown = await client.call_tool("run-container", {"image": "busybox:local"})
        assert unknown.is_error


async def test_tool_lists_and_action_gates(unix_host: str, tmp_path: Path, victim: Any) -> None:
    policy = write_policy(
        tmp_path,
        "[exposure]\n"
        'deny_tools = ["exec-container"]\n'
        'deny_actions = ["manage-container:kill", "image-operations:*"]\n',
    )
    settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=policy, MCP_DOCKER_CONFIRM="client-approval")
    async with Client(build_server(settings)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "exec-container" not in names
        text = error_text(
            await client.call_tool("manage-container", {"container_id": victim.name, "action": "kill"})
        )
        assert "policy rule 'denied-action'" in text
        assert "deny_actions" in text
        ok(await client.call_tool("manage-container", {"container_id": victim.name, "action": "pause"}))
        # Every action denied: the tool is not listed at all, and a call to it is refused.
        assert "image-operations" not in names
        assert (await client.call_tool("image-operations", {"image": "*", "action": "list"})).is_error
    allow = write_policy(tmp_path, 'allow_tools = ["list-containers"]\n')
    async with Client(build_server(settings_for(unix_host, MCP_DOCKER_POLICY_FILE=allow))) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["list-containers"]


async def test_injected_defaults_and_image_allowlist(
    unix_host: str, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, unique_name: str
) -> None:
    policy = write_policy(
        tmp_path,
        f'image_allowlist = ["{test_image.split(":")[0]}:*"]\n[defaults]\ndefault_memory = "64m"\n'
        "default_pids_limit = 64\ndefault_cpus = 0.5\n",
    )
    async with Client(build_server(settings_for(unix_host, MCP_DOCKER_POLICY_FILE=policy))) as client:
        ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "command": "sleep 30",
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        try:
            host = docker_client.containers.get(unique_name).attrs["HostConfig"]
            assert host["SecurityOpt"] == ["no-new-privileges"]
            assert host["Memory"] == 64 * 1024 * 1024
            assert host["PidsLimit"] == 64
            assert host["NanoCpus"] == 500_000_000
        finally:
            docker_client.containers.get(unique_name).remove(force=True)
        text = error_text(await client.call_tool("run-container", {"image": "alpine:3.20"}))
        assert "policy rule 'image-allowlist'" in text
        pull = error_text(
            await client.call_tool("image-operations", {"image": "alpine:3.20", "action": "pull"})
        )
        assert "policy rule 'image-allowlist'" in pull


async def test_audit_file_records_mutating_calls_without_secret_values(
    unix_host: str, tmp_path: Path, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    audit = tmp_path / "audit.jsonl"
    settings = settings_for(unix_host, MCP_DOCKER_AUDIT_LOG=str(audit))
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        ok(await client.call_tool("list-containers", {}))
        ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "command": "true",
                    "detach": False,
                    "environment": {"DB_PASSWORD": "canary-audit-secret"},
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        error_text(await client.call_tool("run-container", {"image": test_image, "privileged": True}))
        ok(await client.call_tool("manage-container", {"container_id": unique_name, "action": "remove"}))
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["tool"], e["decision"], e["outcome"]) for e in lines] == [
        ("run-container", "allowed", "ok"),
        ("run-container", "denied", "PolicyDenied"),
        ("manage-container", "allowed", "ok"),
    ]
    assert lines[0]["target"] == test_image
    assert lines[0]["args"]["environment"] == ["DB_PASSWORD"]
    assert lines[2]["action"] == "remove"
    assert "canary-audit-secret" not in audit.read_text()
    assert oct(audit.stat().st_mode & 0o777) == "0o600"


async def test_a_gated_action_is_refused_without_asking(unix_host: str, tmp_path: Path, victim: Any) -> None:
    asked: list[str] = []

    async def record(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    policy = write_policy(tmp_path, 'deny_actions = ["manage-container:remove"]\n')
    settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=policy)
    async with Client(build_server(settings), elicitation_callback=record) as client:
        text = error_text(
            await client.call_tool("manage-container", {"container_id": victim.name, "action": "remove"})
        )
    assert "denied-action" in text
    assert asked == []


async def test_root_exec_can_be_forbidden(unix_host: str, tmp_path: Path, victim: Any) -> None:
    policy = write_policy(tmp_path, "allow_root_exec = false\n")
    async with Client(build_server(settings_for(unix_host, MCP_DOCKER_POLICY_FILE=policy))) as client:
        for user in (None, "root", "0", "0:0"):
            args = {"container_id": victim.name, "command": "id -u", **({"user": user} if user else {})}
            text = error_text(await client.call_tool("exec-container", args))
            assert "policy rule 'root-exec'" in text
            assert "allow_root_exec = true" in text
        as_nobody = ok(
            await client.call_tool(
                "exec-container", {"container_id": victim.name, "command": "id -u", "user": "65534"}
            )
        )
        assert as_nobody["stdout"].strip() == "65534"
