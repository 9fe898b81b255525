"""Canary secrets never surface; injected text never reaches a shell."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client, StdioServerParameters

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

CANARIES = {
    "env": "canary-env-" + RUN_ID,
    "aws": "AKIA" + RUN_ID.upper().ljust(16, "Q")[:16],
    "github": "ghp_" + ("c4n4ry" + RUN_ID).ljust(36, "x"),
    "key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"
    + RUN_ID
    + "\n-----END OPENSSH PRIVATE KEY-----",
    "password": "hunter2-" + RUN_ID,
}
KEY_MARKER = "b3BlbnNzaC1rZXktdjEAAAAA" + RUN_ID


def hits(text: str) -> list[str]:
    found = [name for name, value in CANARIES.items() if name != "key" and value in text]
    return found + (["key"] if KEY_MARKER in text else [])


async def test_canary_secrets_never_surface(
    unix_host: str,
    test_image: str,
    unique_name: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    audit = tmp_path / "audit.jsonl"
    settings = settings_for(unix_host, MCP_DOCKER_AUDIT_LOG=str(audit))
    outputs: list[str] = []
    script = (
        f"echo aws={CANARIES['aws']}; echo token {CANARIES['github']}; "
        f"printf '%s\\n' \"$KEYBLOCK\"; echo password={CANARIES['password']}; exec sleep 30"
    )
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:

        async def call(tool: str, args: dict[str, Any]) -> None:
            result = await client.call_tool(tool, args)
            outputs.append(json.dumps(result.model_dump(mode="json"), default=str))

        await call(
            "run-container",
            {
                "image": test_image,
                "name": unique_name,
                "command": ["sh", "-c", script],
                "environment": {
                    "API_TOKEN": CANARIES["env"],
                    "KEYBLOCK": CANARIES["key"],
                    "HARMLESS": CANARIES["aws"],
                },
                "labels": {LABEL_KEY: RUN_ID, "deploy.token": CANARIES["github"]},
            },
        )
        await call("container-logs", {"container_id": unique_name})
        await call("inspect-container", {"container_id": unique_name, "show_env": True})
        await call("inspect-container", {"container_id": unique_name})
        await call("exec-container", {"container_id": unique_name, "command": "env"})
        await call("exec-container", {"container_id": unique_name, "command": ["sh", "-c", "echo $KEYBLOCK"]})
        await call("list-containers", {"name": unique_name})
        await call(
            "image-operations",
            {
                "image": "127.0.0.1:9/none:1",
                "action": "push",
                "auth": {"username": "u", "password": CANARIES["password"]},
            },
        )
        await call(
            "image-operations",
            {
                "image": "127.0.0.1:9/none:1",
                "action": "pull",
                "auth": {"username": "u", "password": CANARIES["password"]},
            },
        )
        await call("manage-container", {"container_id": unique_name, "action": "remove", "force": True})
    everything = "\n".join(outputs)
    # The calls really ran: the logs and the env carried the canaries to the server.
    assert "[redacted]" in everything
    assert [(i, hits(o)) for i, o in enumerate(outputs) if hits(o)] == []
    assert hits(caplog.text) == []
    assert hits(audit.read_text()) == []


async def test_canaries_stay_out_of_the_servers_stderr(
    unix_host: str, test_image: str, tmp_path: Path
) -> None:
    errlog = tmp_path / "stderr.log"
    name = f"mcpd-canary-{uuid.uuid4().hex[:6]}"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_docker_server", "--log-level", "DEBUG", "--confirm", "client-approval"],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "DOCKER_HOST": unix_host},
    )
    from mcp.client.stdio import stdio_client

    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write):
            from mcp import ClientSession

            async with ClientSession(read, write) as session:
                await session.initialize()
                await session.call_tool(
                    "run-container",
                    {
                        "image": test_image,
                        "name": name,
                        "command": f"echo {CANARIES['aws']}",
                        "detach": False,
                        "environment": {"SECRET": CANARIES["env"]},
                        "labels": {LABEL_KEY: RUN_ID},
                        "auto_remove": True,
                    },
                )
                await session.call_tool(
                    "image-operations",
                    {
                        "image": "127.0.0.1:9/none:1",
                        "action": "pull",
                        "auth": {"username": "u", "password": CANARIES["password"]},
                    },
                )
    text = errlog.read_text()
    assert "tool=run-container" in text  # the log was written
    assert hits(text) == []


# --------------------------------------------------------------------------- injection

PAYLOADS = [
    "; touch {canary}",
    "&& touch {canary}",
    "| touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    "\ntouch {canary}",
    "\r\ntouch {canary}",
    "x\x00; touch {canary}",
    "' ; touch {canary} ; '",
    '" ; touch {canary} ; "',
    "$IFS;touch${IFS}{canary}",
    "{{touch,{canary}}}",
    "> {canary}",
    ">> {canary}",
    "< /etc/passwd",
    "--privileged",
    "-v/:/host",
    "--volume=/:/host",
    "-e X=1",
    "--rm",
    "-it",
    "--network=host",
    "../../../../etc/passwd",
    "/etc/passwd",
    "%0atouch%20{canary}",
    "\\x3b touch {canary}",
    "$((1+1))",
    "${{HOME}}",
    "~root",
    "*",
    "?",
    "[a-z]",
    "!!",
    "#{{touch {canary}}}",
    "{{{{7*7}}}}",
    "\u202etouch {canary}",
    "ｔｏｕｃｈ {canary}",  # noqa: RUF001 - a look-alike is the point
    "a" * 10000,
    "\t--help",
    "-",
    "--",
    "😀; touch {canary}",
]


def string_fields() -> list[tuple[str, dict[str, Any], str]]:
    """(tool, base arguments, field) for every string field, with safe values elsewhere."""
    return [
        ("run-container", {"image": "busybox:local"}, "image"),
        ("run-container", {"image": "busybox:local"}, "name"),
        ("run-container", {"image": "busybox:local"}, "command"),
        ("run-container", {"image": "busybox:local"}, "entrypoint"),
        ("run-container", {"image": "busybox:local"}, "working_dir"),
        ("run-container", {"image": "busybox:local"}, "user"),
        ("run-container", {"image": "busybox:local"}, "network"),
        ("run-container", {"image": "busybox:local"}, "restart_policy"),
        ("run-container", {"image": "busybox:local"}, "memory"),
        ("manage-container", {"action": "stop"}, "container_id"),
        ("manage-container", {"container_id": "x", "action": "kill"}, "signal"),
        ("inspect-container", {}, "container_id"),
        ("container-logs", {"container_id": "x"}, "since"),
        ("container-logs", {"container_id": "x"}, "grep"),
        ("container-stats", {}, "container_id"),
        ("exec-container", {"container_id": "x"}, "command"),
        ("exec-container", {"container_id": "x", "command": "ls"}, "workdir"),
        ("list-containers", {}, "name"),
        ("build-image", {"tag": "x:y"}, "path"),
        ("build-image", {"path": "/nonexistent"}, "tag"),
        ("build-image", {"path": "/nonexistent", "tag": "x:y"}, "dockerfile"),
        ("build-image", {"path": "/nonexistent", "tag": "x:y"}, "target"),
        ("image-operations", {"action": "inspect"}, "image"),
        ("image-operations", {"image": "x:y", "action": "tag"}, "new_tag"),
        ("image-operations", {"image": "x:y", "action": "pull"}, "registry"),
        ("compose-stack", {"action": "ps"}, "compose_file"),
        ("compose-stack", {"compose_file": "/nonexistent.yml", "action": "ps"}, "project_name"),
        ("network-management", {"action": "create"}, "name"),
        ("volume-management", {"action": "create"}, "name"),
        ("volume-management", {"name": "v", "action": "create"}, "driver"),
        ("service-management", {"action": "create", "image": "busybox:local"}, "name"),
        ("service-management", {"action": "create", "name": "web"}, "image"),
        ("service-management", {"action": "create", "name": "web", "image": "busybox:local"}, "command"),
        ("stack-management", {"action": "deploy", "compose_file": "/nonexistent.yml"}, "name"),
        ("stack-management", {"action": "deploy", "name": "st"}, "compose_file"),
        ("swarm-management", {"action": "inspect-node"}, "node"),
        ("swarm-management", {"action": "init"}, "advertise_addr"),
        ("docker-system", {"action": "events"}, "since"),
        ("docker-system", {"action": "events"}, "until"),
        ("image-security", {"action": "lint"}, "target"),
        ("image-security", {"action": "audit"}, "target"),
        ("image-security", {"action": "sbom", "target": "busybox:local"}, "output"),
    ]


async def test_injection_payloads_in_every_string_field(tmp_path: Path) -> None:
    """Against an engine that is not there: every code path up to the engine runs, and no
    payload may reach a shell on this machine (the canary file never appears)."""
    canary = tmp_path / "canary"
    settings = settings_for(
        f"unix://{tmp_path}/no-engine.sock", DOCKER_TIMEOUT="2", MCP_DOCKER_CONFIRM="client-approval"
    )
    cases = 0
    async with Client(build_server(settings)) as client:
        for tool, base, field in string_fields():
            for template in PAYLOADS:
                payload = template.replace("{canary}", str(canary))
                result = await client.call_tool(tool, {**base, field: payload})
                cases += 1
                # Either refused, or the engine (absent) was asked: nothing ran here.
                assert result.is_error, (tool, field, payload)
    assert cases == len(string_fields()) * len(PAYLOADS) >= 40 * 30
    assert not canary.exists()


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "{canary}" in p][:12])
async def test_argv_fields_pass_payloads_literally(
    client: Client, test_image: str, tmp_path: Path, unique_name: str, payload: str
) -> None:
    canary = tmp_path / "canary"
    text = payload.replace("{canary}", str(canary)).replace("\x00", "")
    result = ok(
        await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "name": unique_name,
                "command": ["echo", text],
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    assert result["output"].rstrip("\n") == text.replace("\r\n", "\n").replace("\r", "")
    assert not canary.exists()
