"""Admission on what the engine will run: Compose rendered, created, inspected and judged before
anything starts; existing containers judged before exec/start/restart/unpause; stacks deployed
from the bytes that were judged. Each refusal asserts the rule, the field or key, that nothing
was created and that no host program ran.

The differential part checks, field by field, that what the engine created for admitted compose
and service fixtures is what the policy judged (inspected after the fact and judged again)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.engine import Containers, Engine
from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, admit, lexical_resolver
from mcp_docker_server.policy.admission import ContainerDescription, judge_container, judge_task_template
from mcp_docker_server.server import build_server
from mcp_docker_server.specs.containers import ContainerSpec, MountSpec
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, labelled, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


def project_leftovers(docker_client: docker.DockerClient, project: str) -> list[str]:
    """Everything a compose project has on the engine: containers, networks, volumes."""
    label: dict[str, str | list[str] | bool] = {"label": f"com.docker.compose.project={project}"}
    return [
        *(f"container {c.name}" for c in docker_client.containers.list(all=True, filters=label)),
        *(f"network {n.name}" for n in docker_client.networks.list(filters=label)),
        *(f"volume {v.name}" for v in docker_client.volumes.list(filters=label)),
    ]


def compose_file(tmp_path: Path, image: str, app: str, extra: str = "") -> Path:
    """A two-service project whose service ``app`` carries ``app`` (YAML lines, indented 4)."""
    body = textwrap.indent(textwrap.dedent(app).strip(), " " * 4)
    file = tmp_path / "compose.yaml"
    file.write_text(
        f"services:\n  app:\n    image: {image}\n    command: [sleep, '30']\n"
        f"    labels:\n      {LABEL_KEY}: '{RUN_ID}'\n{body}\n"
        f"  other:\n    image: {image}\n    command: [sleep, '30']\n"
        f"    labels:\n      {LABEL_KEY}: '{RUN_ID}'\n{extra}"
    )
    return file


async def up(client: Client, file: Path, project: str, **args: Any) -> Any:
    return await client.call_tool(
        "compose-stack", {"compose_file": str(file), "action": "up", "project_name": project, **args}
    )


# (service lines, rule, words the refusal must contain)
ENGINE_FIELD_CASES: list[tuple[str, str, str]] = [
    ("use_api_socket: true", "compose-key", "use_api_socket"),
    ("device_cgroup_rules: ['b 8:* rmw']", "devices", "b 8:* rmw"),
    ("security_opt: ['seccomp:unconfined']", "unconfined", "seccomp:unconfined"),
    ("security_opt: ['apparmor:unconfined']", "unconfined", "apparmor:unconfined"),
    ("security_opt: ['label:type:spc_t']", "unconfined", "spc_t"),
    ("security_opt: ['systempaths=unconfined']", "unconfined", "systempaths"),
    ("post_start: [{command: [echo, hi]}]", "compose-key", "post_start"),
    ("pre_stop: [{command: [echo, hi]}]", "compose-key", "pre_stop"),
    ("sysctls: {kernel.domainname: evil}", "sysctls", "kernel.domainname"),
    ("cgroup_parent: /", "cgroupparent", "CgroupParent"),
    ("logging: {driver: syslog, options: {syslog-address: 'udp://127.0.0.1:1'}}", "logconfig", "syslog"),
    ("oom_score_adj: -1000", "oomscoreadj", "-1000"),
    ("volumes_from: ['other']", "volumes-from", "volumes_from"),
    ("devices: ['/dev/null:/dev/x']", "devices", "/dev/null"),
    ("cap_add: [SYS_ADMIN]", "cap-add", "SYS_ADMIN"),
    ("network_mode: host", "host-network", "host"),
    ("ipc: host", "host-ipc", "host"),
    ("env_file: [/etc/shadow]", "sensitive-bind", "env_file"),
    ("build: {context: /etc}", "sensitive-bind", "build context"),
    ("build: {context: ., additional_contexts: {loot: /etc}}", "sensitive-bind", "additional_contexts"),
    ("build: {context: ., network: host}", "build-network", "build.network"),
    ("build: {context: ., ssh: [default]}", "build-ssh", "build.ssh"),
    ("volumes: ['/var/run/docker.sock:/s']", "socket-bind", "docker.sock"),
]


@pytest.mark.parametrize(("lines", "rule", "named"), ENGINE_FIELD_CASES)
async def test_compose_refusals_leave_nothing(
    client: Client,
    test_image: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    lines: str,
    rule: str,
    named: str,
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n")
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    text = error_text(await up(client, compose_file(tmp_path, test_image, lines), project, build=True))
    assert f"policy rule '{rule}'" in text, text
    assert named in text, text
    assert "Only the operator can allow this" in text
    assert project_leftovers(docker_client, project) == []
    assert labelled(docker_client) == []


async def test_provider_never_runs_on_up_or_down(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    marker = tmp_path / "provider-ran"
    script = tmp_path / "provider.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    file = compose_file(tmp_path, test_image, "", f"  ext:\n    provider:\n      type: {script}\n")
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    for action in ("up", "down", "stop", "pull"):
        text = error_text(
            await client.call_tool(
                "compose-stack", {"compose_file": str(file), "action": action, "project_name": project}
            )
        )
        assert "policy rule 'compose-key'" in text
        assert "service ext: provider runs a program on the server's host" in text
        assert 'allow_compose_keys = ["provider"]' in text
    assert not marker.exists()
    assert project_leftovers(docker_client, project) == []


async def test_secret_file_from_the_host_is_refused(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    file = compose_file(tmp_path, test_image, "secrets: [s]", "secrets:\n  s:\n    file: /etc/shadow\n")
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    text = error_text(await up(client, file, project))
    assert "policy rule 'sensitive-bind'" in text
    assert "secrets s: file" in text
    assert project_leftovers(docker_client, project) == []


async def test_a_profiled_service_named_in_the_call_is_judged(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    extra = f"  debug:\n    image: {test_image}\n    profiles: [debug]\n    volumes: ['/etc:/host-etc']\n"
    file = compose_file(tmp_path, test_image, "", extra)
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    for args in ({"services": ["debug"]}, {"profiles": ["debug"]}):
        text = error_text(await up(client, file, project, **args))
        assert "policy rule 'sensitive-bind'" in text
        assert "service debug" in text
    assert project_leftovers(docker_client, project) == []


async def test_an_admitted_project_starts_and_judged_fields_are_what_runs(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """Differential: what the engine created equals what was asked, field by field, and the
    engine's description of every created container passes the judge again."""
    lines = """\
        cap_add: [NET_BIND_SERVICE]
        cap_drop: [MKNOD]
        security_opt: ['no-new-privileges:true']
        read_only: true
        tmpfs: [/tmp]
        mem_limit: 64m
        pids_limit: 50
        sysctls: {net.ipv4.tcp_syncookies: '1'}
        ulimits: {nofile: 1024}
        volumes: ['data:/data']
        environment: {MODE: test}
    """
    file = compose_file(tmp_path, test_image, lines, "volumes:\n  data: {}\n")
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    try:
        result = ok(await up(client, file, project))
        assert {s["service"] for s in result["services"]} == {"app", "other"}
        [app] = docker_client.containers.list(
            filters={"label": [f"com.docker.compose.project={project}", "com.docker.compose.service=app"]}
        )
        host = app.attrs["HostConfig"]
        assert [c.removeprefix("CAP_") for c in host["CapAdd"]] == ["NET_BIND_SERVICE"]
        assert [c.removeprefix("CAP_") for c in host["CapDrop"]] == ["MKNOD"]
        assert host["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["ReadonlyRootfs"] is True
        assert host["Tmpfs"] == {"/tmp": ""}
        assert host["Memory"] == 64 * 1024 * 1024
        assert host["PidsLimit"] == 50
        assert host["Sysctls"] == {"net.ipv4.tcp_syncookies": "1"}
        assert host["Privileged"] is False
        assert host["NetworkMode"] == f"{project}_default"
        assert not host.get("Devices")
        assert not host.get("DeviceCgroupRules")
        assert [m["Name"] for m in app.attrs["Mounts"]] == [f"{project}_data"]
        info = docker_client.info()
        for container in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={project}"}
        ):
            judge_container(
                Policy(),
                ContainerDescription(
                    name=str(container.name),
                    config=container.attrs["Config"],
                    host_config=container.attrs["HostConfig"],
                    networks=container.attrs["NetworkSettings"]["Networks"],
                    cgroup_version=str(info.get("CgroupVersion") or "1"),
                ),
                lexical_resolver,
            )
    finally:
        ok(
            await client.call_tool(
                "compose-stack",
                {
                    "compose_file": str(file),
                    "action": "down",
                    "project_name": project,
                    "remove_volumes": True,
                },
            )
        )
    assert project_leftovers(docker_client, project) == []


async def test_one_shot_service_and_override_file_as_compose_runs_them(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    file = compose_file(
        tmp_path,
        test_image,
        "",
        f"  migrate:\n    image: {test_image}\n    command: ['true']\n"
        f"    labels:\n      {LABEL_KEY}: '{RUN_ID}'\n",
    )
    (tmp_path / "compose.override.yaml").write_text(
        "services:\n  app:\n    environment: {FROM_OVERRIDE: 'yes'}\n"
    )
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    try:
        result = ok(await up(client, tmp_path, project))
        states = {s["service"]: s for s in result["services"]}
        assert states["migrate"]["state"] == "exited"
        assert states["migrate"]["exit_code"] == 0
        assert "migrate ran to completion (exit 0)" in result["note"]
        [app] = [
            c
            for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
            if c.labels["com.docker.compose.service"] == "app"
        ]
        assert "FROM_OVERRIDE=yes" in app.attrs["Config"]["Env"]
    finally:
        ok(
            await client.call_tool(
                "compose-stack", {"compose_file": str(file), "action": "down", "project_name": project}
            )
        )


async def test_unhealthy_service_failure_says_the_last_probe(
    client: Client, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    lines = """\
        healthcheck:
          test: [CMD-SHELL, 'echo probe-said-no; exit 1']
          interval: 1s
          retries: 1
          timeout: 2s
    """
    file = compose_file(tmp_path, test_image, lines)
    project = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    try:
        text = error_text(await up(client, file, project, timeout=30))
        assert "app" in text
        assert "unhealthy; last probe said: probe-said-no" in text
    finally:
        ok(
            await client.call_tool(
                "compose-stack", {"compose_file": str(file), "action": "down", "project_name": project}
            )
        )


@pytest.fixture
def foreign(docker_client: docker.DockerClient, test_image: str) -> Iterator[dict[str, str]]:
    """Containers made outside this server: one in the host's PID namespace, one with the
    engine's socket (privileged containers cannot start on this sandboxed engine)."""
    made = {
        "host-pid": docker_client.containers.run(
            test_image, ["sleep", "300"], detach=True, pid_mode="host", labels={LABEL_KEY: RUN_ID}
        ),
        "socket-bind": docker_client.containers.run(
            test_image,
            ["sleep", "300"],
            detach=True,
            labels={LABEL_KEY: RUN_ID},
            volumes={"/var/run/docker.sock": {"bind": "/s", "mode": "rw"}},
        ),
    }
    try:
        yield {rule: str(c.id) for rule, c in made.items()}
    finally:
        for container in made.values():
            container.remove(force=True)


async def test_foreign_containers_get_nothing_through_this_server(
    client: Client, foreign: dict[str, str], docker_client: docker.DockerClient, unix_host: str
) -> None:
    for rule, cid in foreign.items():
        text = error_text(await client.call_tool("exec-container", {"container_id": cid, "command": ["id"]}))
        assert f"policy rule '{rule}'" in text
        assert "allow_foreign_containers = true" in text
        docker_client.containers.get(cid).pause()
        text = error_text(
            await client.call_tool("manage-container", {"container_id": cid, "action": "unpause"})
        )
        assert f"policy rule '{rule}'" in text
        assert docker_client.containers.get(cid).status == "paused"
        docker_client.containers.get(cid).unpause()
        docker_client.containers.get(cid).stop(timeout=0)
        for action in ("start", "restart"):
            text = error_text(
                await client.call_tool("manage-container", {"container_id": cid, "action": action})
            )
            assert f"policy rule '{rule}'" in text
        assert docker_client.containers.get(cid).status == "exited"
        # Stopping and removing take from a container; they stay allowed.
        ok(await client.call_tool("manage-container", {"container_id": cid, "action": "stop"}))
    opened = replace(Policy(), allow_foreign_containers=True)
    async with Client(
        build_server(settings_for(unix_host), policy=opened), elicitation_callback=accept_all
    ) as trusted:
        ok(
            await trusted.call_tool(
                "manage-container", {"container_id": foreign["host-pid"], "action": "start"}
            )
        )
        ran = ok(
            await trusted.call_tool(
                "exec-container", {"container_id": foreign["host-pid"], "command": ["true"]}
            )
        )
        assert ran["exit_code"] == 0


async def test_run_container_judges_the_created_container_and_removes_it(
    unix_host: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    """The engine's description is judged between create and start; a refusal removes the
    container and the named volume its creation made."""
    seen: list[ContainerDescription] = []

    def refuse(desc: ContainerDescription) -> None:
        seen.append(desc)
        raise PolicyDenied("test", "refused on the engine's description")

    volume = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    spec = ContainerSpec(
        image=test_image,
        command=("true",),
        labels={LABEL_KEY: RUN_ID},
        mounts=(MountSpec(kind="volume", source=volume, target="/v"),),
    )
    engine = Engine(settings_for(unix_host).engine)
    try:
        with pytest.raises(PolicyDenied):
            await Containers(engine).run(
                admit(spec), detach=True, pull="never", wait_timeout=5, max_bytes=1024, judge=refuse
            )
    finally:
        engine.close()
    [desc] = seen
    assert desc.config["Image"] == test_image
    assert desc.host_config["Binds"] == [f"{volume}:/v:rw"]
    assert volume in desc.volumes
    assert labelled(docker_client) == []
    assert volume not in [v.name for v in docker_client.volumes.list()]


# --------------------------------------------------------------------------- swarm


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient) -> Iterator[None]:
    docker_client.swarm.init(advertise_addr="127.0.0.1")
    try:
        yield
    finally:
        docker_client.swarm.leave(force=True)


# The compose matrix, less what stacks cannot do at all: builds; device_cgroup_rules, which the
# stack loader refuses itself; keys it ignores ("Ignoring unsupported options"), so the service
# never gets them and what runs is admissible, as the stored-template test shows.
_STACK_SKIPS = ("build", "device_cgroup_rules", "cgroup_parent", "oom_score_adj", "security_opt: ['label",
                "security_opt: ['systempaths")  # fmt: skip
STACK_CASES: list[tuple[str, str, str]] = [
    *[case for case in ENGINE_FIELD_CASES if not case[0].startswith(_STACK_SKIPS)],
    ("volumes: ['/etc:/e']", "sensitive-bind", "/etc"),
]


@pytest.mark.parametrize(("lines", "rule", "named"), STACK_CASES)
async def test_stack_refusals_deploy_nothing(
    client: Client,
    swarm: None,
    test_image: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
    lines: str,
    rule: str,
    named: str,
) -> None:
    stack = f"mcpdadm{uuid.uuid4().hex[:6]}"
    text = error_text(
        await client.call_tool(
            "stack-management",
            {
                "action": "deploy",
                "name": stack,
                "compose_file": str(compose_file(tmp_path, test_image, lines)),
            },
        )
    )
    assert f"policy rule '{rule}'" in text, text
    assert named in text
    assert docker_client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}) == []


async def test_stack_deploys_the_rendered_bytes_and_services_are_judged_as_stored(
    client: Client, swarm: None, test_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """`.env` is read as Compose reads it (the stack loader alone would not), and the service the
    swarm stored passes the judge again (differential)."""
    (tmp_path / ".env").write_text("MODE=from-dotenv\n")
    file = compose_file(
        tmp_path, test_image, "environment: {MODE: '${MODE}'}\nvolumes: ['data:/d']", "volumes:\n  data: {}\n"
    )
    stack = f"mcpdadm{uuid.uuid4().hex[:6]}"
    try:
        ok(
            await client.call_tool(
                "stack-management",
                {
                    "action": "deploy",
                    "name": stack,
                    "compose_file": str(file),
                    "resolve_image": "never",
                    "timeout": 60,
                },
            )
        )
        services = {
            s.name: s
            for s in docker_client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"})
        }
        assert set(services) == {f"{stack}_app", f"{stack}_other"}
        spec: dict[str, Any] = services[f"{stack}_app"].attrs["Spec"]["TaskTemplate"]
        assert "MODE=from-dotenv" in spec["ContainerSpec"]["Env"]
        assert [m["Source"] for m in spec["ContainerSpec"]["Mounts"]] == [f"{stack}_data"]
        judge_task_template(Policy(), f"{stack}_app", spec, [f"{stack}_default"], {}, lexical_resolver)
    finally:
        ok(await client.call_tool("stack-management", {"action": "remove", "name": stack}))


async def test_service_update_of_a_foreign_service_is_refused(
    client: Client, swarm: None, test_image: str, docker_client: docker.DockerClient
) -> None:
    name = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    docker_client.services.create(  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        test_image,
        ["sleep", "300"],
        name=name,
        labels={LABEL_KEY: RUN_ID},
        mounts=[docker.types.Mount(target="/e", source="/etc", type="bind", read_only=True)],
    )
    try:
        for args in ({"action": "update", "env": {"A": "1"}}, {"action": "scale", "replicas": 3}):
            text = error_text(
                await client.call_tool("service-management", {"name": name, "wait": False, **args})
            )
            assert "policy rule 'sensitive-bind'" in text
            assert "allow_foreign_containers = true" in text
        assert docker_client.services.get(name).attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 1  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
    finally:
        docker_client.services.get(name).remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped


async def test_a_created_service_is_what_was_judged(
    client: Client, swarm: None, test_image: str, docker_client: docker.DockerClient
) -> None:
    """Differential: the stored service carries exactly the asked mounts, limits and env, and its
    stored template passes the judge again."""
    name = f"mcpd-adm-{uuid.uuid4().hex[:6]}"
    try:
        ok(
            await client.call_tool(
                "service-management",
                {
                    "action": "create",
                    "name": name,
                    "image": test_image,
                    "command": ["sleep", "300"],
                    "env": {"MODE": "svc"},
                    "volumes": [f"{name}-data:/d"],
                    "memory": "64m",
                    "labels": {LABEL_KEY: RUN_ID},
                    "wait": False,
                },
            )
        )
        template: dict[str, Any] = docker_client.services.get(name).attrs["Spec"]["TaskTemplate"]  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        spec = template["ContainerSpec"]
        assert spec["Env"] == ["MODE=svc"]
        assert [(m["Type"], m["Source"], m["Target"]) for m in spec["Mounts"]] == [
            ("volume", f"{name}-data", "/d")
        ]
        assert template["Resources"]["Limits"]["MemoryBytes"] == 64 * 1024 * 1024
        assert not spec.get("Privileges", {}).get("Seccomp")
        # The operator's no-new-privileges default reaches services from API 1.44 (Docker 25).
        api = tuple(int(p) for p in str(docker_client.version()["ApiVersion"]).split(".")[:2])
        assert bool(spec.get("Privileges", {}).get("NoNewPrivileges")) is (api >= (1, 44))
        assert not spec.get("CapabilityAdd")
        judge_task_template(Policy(), name, template, [], {}, lexical_resolver)
    finally:
        docker_client.services.get(name).remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
