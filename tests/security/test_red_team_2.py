"""Red-team findings, second pass, on the real engine through the official MCP client. Each test
asserts the behaviour the README promises; a failing test names a fault (its first comment line
says which). Everything a test makes carries the run's label or is removed by the test itself."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from mcp_docker_server.errors import ConfigError
from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, labelled, ok, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

LONG_LINE = 40_000  # bytes of one log/exec line, more than twice the default 16 KiB budget


def _short() -> str:
    return uuid.uuid4().hex[:8]


def image_exists(docker_client: docker.DockerClient, ref: str) -> bool:
    try:
        docker_client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(autouse=True)
def _remove_what_a_fault_made(docker_client: docker.DockerClient) -> Iterator[None]:
    """A failing test may leave a labelled container; remove it so one finding does not fail the
    session's leak check as well (each test asserts on what it made before this runs)."""
    yield
    for container in labelled(docker_client):
        container.remove(force=True)


@pytest.fixture
def images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Image references a test makes (or a fault might make), removed afterwards."""
    made: list[str] = []
    yield made
    for ref in made:
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            docker_client.images.remove(ref, force=True)


@pytest.fixture
async def no_root_exec(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), allow_root_exec=False)
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


@pytest.fixture
async def busybox_only(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), image_allowlist=("busybox:*",))
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


async def run_labelled(client: Client, image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    return ok(
        await client.call_tool(
            "run-container",
            {"image": image, "command": command, "labels": {LABEL_KEY: RUN_ID}, **extra},
        )
    )


def forbidden_image(docker_client: docker.DockerClient, test_image: str, images: list[str]) -> str:
    """An image of its own (a new id, no allowed name on it): a committed, never-run container."""
    ref = f"mcpd-rt2-forbidden-{_short()}:1"
    container = docker_client.containers.create(test_image, ["true"])
    try:
        repository, tag = ref.split(":")
        container.commit(repository=repository, tag=tag, changes=['LABEL mcpd.rt2="forbidden"'])
    finally:
        container.remove(force=True)
    images.append(ref)
    return ref


# --------------------------------------------------------------------------- exec: root


@pytest.mark.parametrize("user", ["00", "+0", "-0", "0000", "0000:0"])
async def test_root_exec_is_refused_for_every_spelling_of_uid_0(
    no_root_exec: Client, test_image: str, user: str
) -> None:
    # FAULT: allow_root_exec=false compares user to "0"/"root" as text; "00", "+0", "-0" run as uid 0.
    run = await run_labelled(no_root_exec, test_image, ["sleep", "120"])
    result = await no_root_exec.call_tool(
        "exec-container", {"container_id": run["id"], "command": ["id", "-u"], "user": user}
    )
    assert result.is_error, f"exec as {user!r} ran: {result.structured_content}"
    assert "root-exec" in text_of(result)


async def test_root_exec_is_refused_for_a_user_name_that_is_uid_0(
    no_root_exec: Client, test_image: str, docker_client: docker.DockerClient
) -> None:
    # FAULT: a passwd entry with uid 0 under another name (the container wrote it) passes as non-root.
    run = await run_labelled(
        no_root_exec,
        test_image,
        ["sh", "-c", "echo 'admin:x:0:0:admin:/:/bin/sh' >> /etc/passwd; sleep 120"],
    )
    container = docker_client.containers.get(run["id"])
    for _ in range(50):
        if b"admin:x:0:0" in container.exec_run(["cat", "/etc/passwd"]).output:
            break
        time.sleep(0.1)
    result = await no_root_exec.call_tool(
        "exec-container", {"container_id": run["id"], "command": ["id", "-u"], "user": "admin"}
    )
    assert result.is_error, f"exec as admin (uid 0) ran: {result.structured_content}"
    assert "root-exec" in text_of(result)


# --------------------------------------------------------------------------- logs: grep deadline


@pytest.fixture
def catastrophic_log(docker_client: docker.DockerClient, test_image: str) -> Iterator[str]:
    """A container whose one log line makes a backtracking regex like (a+)+$ take forever."""
    name = f"mcpd-rt2-{_short()}"
    docker_client.containers.run(
        test_image,
        ["sh", "-c", "echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!; sleep 300"],
        name=name,
        detach=True,
        labels={LABEL_KEY: RUN_ID},
    )
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(name).remove(force=True)


def spawned_server(unix_host: str) -> StdioServerParameters:
    """The server as its own process: a hang there cannot freeze the test's event loop."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": unix_host,
        "DOCKER_TIMEOUT": "20",
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_docker_server"], env=env)


async def test_a_catastrophic_grep_stops_at_its_deadline_and_the_server_keeps_serving(
    unix_host: str, catastrophic_log: str
) -> None:
    # FAULT: grep runs Python re on each line with no time limit; (a+)+$ on 48 a's never returns and
    # holds the GIL, so the whole server (every other call too) hangs far past the 10 s search limit.
    answers: dict[str, CallToolResult] = {}
    async with Client(spawned_server(unix_host), elicitation_callback=accept_all) as c:

        async def grep() -> None:
            answers["grep"] = await c.call_tool(
                "container-logs", {"container_id": catastrophic_log, "grep": "(a+)+$"}
            )

        async def meanwhile() -> None:
            await anyio.sleep(1)
            with anyio.move_on_after(10):
                answers["list"] = await c.call_tool("list-containers", {"limit": 1})

        with anyio.move_on_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(grep)
                group.start_soon(meanwhile)
    assert "list" in answers, "the server answered nothing else while one grep ran"
    assert "grep" in answers, "the grep call did not come back within 30 s (limit: 10 s of search)"
    grep_answer = answers["grep"]
    if not grep_answer.is_error:  # a search stopped by its limit says so
        assert grep_answer.structured_content is not None
        assert "searched" in grep_answer.structured_content


# --------------------------------------------------------------------------- bounded output


async def test_exec_output_keeps_the_newest_bytes_of_a_long_line(client: Client, test_image: str) -> None:
    # FAULT: a line longer than the budget followed by a short one is dropped whole; the result is
    # 4 bytes of a 16 KiB budget while its note says the cut line is shown after "[…]".
    run = await run_labelled(client, test_image, ["sleep", "120"])
    script = f"head -c {LONG_LINE} /dev/zero | tr '\\0' y; echo; echo END"
    result = ok(
        await client.call_tool("exec-container", {"container_id": run["id"], "command": ["sh", "-c", script]})
    )
    stdout = result["stdout"]
    assert stdout.endswith("END\n")
    assert "[…]" in stdout
    assert stdout.count("y") > 8 * 1024, f"only {len(stdout)} bytes of a 16 KiB budget: {stdout[:80]!r}"


async def test_logs_keep_the_newest_bytes_of_a_long_line(client: Client, test_image: str) -> None:
    # FAULT: same in container-logs: "keeps the newest bytes" returns only the short last line.
    script = f"echo FIRST; head -c {LONG_LINE} /dev/zero | tr '\\0' y; echo; echo END; sleep 120"
    run = await run_labelled(client, test_image, ["sh", "-c", script])
    text = ""
    for _ in range(50):
        text = ok(await client.call_tool("container-logs", {"container_id": run["id"]}))["text"]
        if text.endswith("END\n"):
            break
        await anyio.sleep(0.1)
    assert text.endswith("END\n")
    assert "[…]" in text
    assert text.count("y") > 8 * 1024, f"only {len(text)} bytes of a 16 KiB budget: {text[:80]!r}"


# --------------------------------------------------------------------------- compose and stacks

SECRET_VALUE = f"hunter2-{RUN_ID}"


@pytest.fixture
def project(docker_client: docker.DockerClient) -> Iterator[str]:
    """A compose project name whose containers and networks are removed afterwards."""
    name = f"mcpd-rt2-{_short()}"
    yield name
    project_filter: dict[str, str | list[str] | bool] = {"label": f"com.docker.compose.project={name}"}
    for container in docker_client.containers.list(all=True, filters=project_filter):
        container.remove(force=True)
    for network in docker_client.networks.list(filters=project_filter):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()


def project_env(docker_client: docker.DockerClient, project: str) -> list[str]:
    project_filter: dict[str, str | list[str] | bool] = {"label": f"com.docker.compose.project={project}"}
    return [
        entry
        for container in docker_client.containers.list(all=True, filters=project_filter)
        for entry in container.attrs["Config"]["Env"] or []
    ]


async def test_compose_up_runs_secret_environment_values_as_written(
    client: Client, docker_client: docker.DockerClient, test_image: str, tmp_path: Path, project: str
) -> None:
    # FAULT: the rendered config is read through the output redactor (processes/runner.py cleans
    # stdout), so the file Compose runs has DB_PASSWORD=[redacted]: every app with a password breaks.
    file = tmp_path / "compose.yaml"
    file.write_text(
        f"services:\n  app:\n    image: {test_image}\n    command: [sleep, '120']\n"
        f"    labels: {{{LABEL_KEY}: '{RUN_ID}'}}\n"
        f"    environment:\n      DB_PASSWORD: {SECRET_VALUE}\n"
        f"      DATABASE_URL: postgres://app:{SECRET_VALUE}@db/app\n"
    )
    result = await client.call_tool(
        "compose-stack", {"compose_file": str(file), "action": "up", "project_name": project, "timeout": 120}
    )
    assert SECRET_VALUE not in text_of(result)  # results stay redacted
    ok(result)
    env = project_env(docker_client, project)
    assert f"DB_PASSWORD={SECRET_VALUE}" in env, env
    assert f"DATABASE_URL=postgres://app:{SECRET_VALUE}@db/app" in env, env


async def test_a_failing_one_shot_service_is_not_reported_as_a_success(
    client: Client, docker_client: docker.DockerClient, test_image: str, tmp_path: Path, project: str
) -> None:
    # FAULT: same cause: "echo TOKEN=x; exit 3" is rewritten to "echo TOKEN=[redacted] exit 3", the
    # migration "succeeds" (exit 0) and the service depending on it is started and reported healthy.
    file = tmp_path / "compose.yaml"
    file.write_text(
        f"services:\n"
        f"  web:\n    image: {test_image}\n    command: [sleep, '120']\n"
        f"    labels: {{{LABEL_KEY}: '{RUN_ID}'}}\n"
        f"    depends_on: {{migrate: {{condition: service_completed_successfully}}}}\n"
        f"  migrate:\n    image: {test_image}\n"
        f"    labels: {{{LABEL_KEY}: '{RUN_ID}'}}\n"
        f'    command: [sh, -c, "echo migrating with TOKEN=abc123; exit 3"]\n'
    )
    text = error_text(
        await client.call_tool(
            "compose-stack",
            {"compose_file": str(file), "action": "up", "project_name": project, "timeout": 120},
        )
    )
    assert "exit 3" in text or "exit code 3" in text
    project_filter: dict[str, str | list[str] | bool] = {"label": f"com.docker.compose.project={project}"}
    running = docker_client.containers.list(filters=project_filter)
    assert running == [], [c.name for c in running]


@pytest.fixture
def swarm_manager() -> Iterator[tuple[str, docker.DockerClient]]:
    """The test set's swarm manager (already a swarm: nothing here inits or leaves one)."""
    host = os.environ.get("MCPD_TEST_SWARM_MANAGER_HOST")
    if not host:
        pytest.fail("MCPD_TEST_SWARM_MANAGER_HOST is not set: run through scripts/test.sh")
    manager = docker.DockerClient(base_url=host, version="auto", timeout=30)
    yield host, manager
    manager.close()


async def test_stack_deploy_runs_secret_environment_values_as_written(
    swarm_manager: tuple[str, docker.DockerClient], test_image: str, tmp_path: Path
) -> None:
    # FAULT: stack deploy renders through the same redacting reader: the service gets DB_PASSWORD=[redacted].
    host, manager = swarm_manager
    stack = f"mcpd-rt2-{_short()}"
    file = tmp_path / "stack.yaml"
    file.write_text(
        f"services:\n  app:\n    image: {test_image}\n    command: [sleep, '120']\n"
        f"    environment:\n      DB_PASSWORD: {SECRET_VALUE}\n"
    )
    stack_filter = {"label": f"com.docker.stack.namespace={stack}"}
    try:
        async with Client(build_server(settings_for(host)), elicitation_callback=accept_all) as c:
            result = await c.call_tool(
                "stack-management",
                {"action": "deploy", "name": stack, "compose_file": str(file), "timeout": 120},
            )
        ok(result)
        env = [
            entry
            for service in manager.services.list(filters=stack_filter)
            for entry in service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
        ]
        assert f"DB_PASSWORD={SECRET_VALUE}" in env, env
    finally:
        for service in manager.services.list(filters=stack_filter):
            service.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        for _ in range(50):
            networks = manager.networks.list(filters=stack_filter)
            for network in networks:
                with contextlib.suppress(docker.errors.APIError):
                    network.remove()
            if not networks:
                break
            time.sleep(0.2)


# --------------------------------------------------------------------------- images


async def test_a_failed_push_to_another_registry_leaves_no_tag_behind(
    client: Client, docker_client: docker.DockerClient, test_image: str, images: list[str]
) -> None:
    # FAULT: push with `registry` tags the image first and keeps that tag when the push fails.
    name = f"mcpd-rt2-push-{_short()}:v1"
    docker_client.images.get(test_image).tag(name)
    images.extend([name, f"127.0.0.1:1/{name}"])
    result = await client.call_tool(
        "image-operations", {"image": name, "action": "push", "registry": "127.0.0.1:1", "timeout": 20}
    )
    assert "Push of 127.0.0.1:1/" in error_text(result)
    assert not image_exists(docker_client, f"127.0.0.1:1/{name}")


async def test_a_registry_that_is_not_a_host_is_not_read_as_a_docker_hub_namespace(
    client: Client, docker_client: docker.DockerClient, test_image: str, images: list[str]
) -> None:
    # FAULT: registry "intranet" (or "http://intranet") becomes docker.io/intranet/<image>: the push
    # goes to Docker Hub, with Docker Hub's credentials, instead of the registry the user named.
    name = f"mcpd-rt2-hub-{_short()}:v1"
    docker_client.images.get(test_image).tag(name)
    images.extend([name, f"intranet/{name}"])
    text = error_text(
        await client.call_tool(
            "image-operations",
            {"image": name, "action": "push", "registry": "http://intranet", "timeout": 20},
        )
    )
    assert "docker.io" not in text, text
    assert not image_exists(docker_client, f"intranet/{name}")


async def test_tagging_cannot_launder_an_image_into_the_allowlist(
    busybox_only: Client, docker_client: docker.DockerClient, test_image: str, images: list[str]
) -> None:
    # FAULT: image_allowlist judges names only, and image-operations tag renames any local image into it.
    forbidden = forbidden_image(docker_client, test_image, images)
    laundered = f"busybox:mcpd-rt2-{_short()}"
    images.append(laundered)
    tagged = await busybox_only.call_tool(
        "image-operations", {"image": forbidden, "action": "tag", "new_tag": laundered}
    )
    if tagged.is_error:
        assert "image-allowlist" in text_of(tagged)
        return
    run = await busybox_only.call_tool(
        "run-container", {"image": laundered, "command": ["true"], "labels": {LABEL_KEY: RUN_ID}}
    )
    assert "image-allowlist" in error_text(run)
    assert labelled(docker_client) == []


async def test_building_cannot_launder_an_image_into_the_allowlist(
    busybox_only: Client,
    docker_client: docker.DockerClient,
    test_image: str,
    images: list[str],
    tmp_path: Path,
) -> None:
    # FAULT: build-image takes any FROM image (and tag) regardless of image_allowlist; the result runs.
    forbidden = forbidden_image(docker_client, test_image, images)
    (tmp_path / "Dockerfile").write_text(f'FROM {forbidden}\nCMD ["true"]\n')
    built = f"busybox:mcpd-rt2-{_short()}"
    images.append(built)
    build = await busybox_only.call_tool("build-image", {"path": str(tmp_path), "tag": built})
    if build.is_error:
        assert "image-allowlist" in text_of(build)
        assert not image_exists(docker_client, built)
        return
    run = await busybox_only.call_tool(
        "run-container", {"image": built, "command": ["true"], "labels": {LABEL_KEY: RUN_ID}}
    )
    assert "image-allowlist" in error_text(run)
    assert labelled(docker_client) == []


async def test_a_scoped_server_cannot_repoint_a_tag_it_did_not_make(
    unix_host: str, docker_client: docker.DockerClient, test_image: str, images: list[str]
) -> None:
    # FAULT: with label_scope, image remove is refused (images carry no scope), but tag moves an
    # existing name (one that workloads outside the scope run) onto another image unchecked.
    shared = f"mcpd-rt2-shared-{_short()}:prod"
    docker_client.images.get(test_image).tag(shared)
    images.append(shared)
    other = forbidden_image(docker_client, test_image, images)
    policy = replace(Policy(), label_scope=f"{LABEL_KEY}={RUN_ID}")
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as scoped:
        result = await scoped.call_tool(
            "image-operations", {"image": other, "action": "tag", "new_tag": shared}
        )
    assert "label-scope" in error_text(result)
    assert docker_client.images.get(shared).id == docker_client.images.get(test_image).id


# --------------------------------------------------------------------------- policy file


@pytest.mark.parametrize(
    ("key", "value", "bind", "rule"),
    [
        ("sensitive_paths", "/srv/mcpd-rt2-private", "/etc", "sensitive-bind"),
        ("credential_dirs", ".mcpd-rt2-keys", ".ssh", "credential-bind"),
    ],
)
async def test_a_policy_file_list_key_cannot_silently_drop_the_built_in_denylist(
    unix_host: str,
    docker_client: docker.DockerClient,
    test_image: str,
    tmp_path: Path,
    key: str,
    value: str,
    bind: str,
    rule: str,
) -> None:
    # FAULT: sensitive_paths/credential_dirs in a policy file REPLACE the built-in lists: an operator
    # adding one folder opens /etc (or every .ssh) to binds. Either refuse the key or add to the list.
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(f'[containers]\n{key} = ["{value}"]\n')
    refusal = ""
    try:
        settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=str(policy_file))
    except ConfigError as exc:  # refused at start-up, naming the key: also correct
        refusal = str(exc)
    if refusal:
        assert key in refusal
        return
    source = bind
    if not bind.startswith("/"):
        (tmp_path / "data" / bind).mkdir(parents=True)
        (tmp_path / "data" / bind / "id_rsa").write_text("not a real key\n")
        source = str(tmp_path / "data" / bind)
    async with Client(build_server(settings), elicitation_callback=accept_all) as c:
        result = await c.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["ls", "/h"],
                "detach": False,
                "volumes": [f"{source}:/h:ro"],
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    assert f"policy rule '{rule}'" in error_text(result)
    assert labelled(docker_client) == []


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("exec-container", {"container_id": "x", "command": {"a": 1}}, "command"),
        ("run-container", {"image": "busybox:local", "ports": {"80": {"a": 1}}}, "ports"),
    ],
)
async def test_a_wrongly_typed_union_argument_is_described_truthfully(
    client: Client, tool: str, args: dict[str, Any], field: str
) -> None:
    # FAULT: an object where a union (str | list, int | str | list) is expected is reported as
    # "command.str is null or absent": the value was given, and ".str"/".int" are pydantic's branch names.
    text = error_text(await client.call_tool(tool, args))
    assert text.startswith(f"Invalid arguments for {tool}: {field}")
    assert "null or absent" not in text
    assert f"{field}.str" not in text
    assert ".int " not in text
