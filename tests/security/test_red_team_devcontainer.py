"""Red team: dev-container driven by a prompt-injected model, or run on a malicious project folder.

Every test asserts the SAFE behaviour against the real engine, the real Dev Containers CLI and
the real docker CLI: a failing test is a hole. Canaries live under pytest's tmp_path (in folders
the host-path rule protects, such as ``.aws`` and ``.ssh``); everything made is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, RUN_ID, accept_all, error_text, ok, settings_for, text_of
from tests.integration.test_devcontainers import (
    DOCKERFILE,
    built_images,
    containers_of,
    image_config,
    write_project,
)

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

# The label scope of the scoped server: the dev containers it makes carry it; the victims below
# carry only the test run's label (so the session's leak check still covers them).
SCOPE_KEY = "io.mcp-docker-server.red-team-scope"
SCOPE = f"{SCOPE_KEY}={RUN_ID}"
# A variable of the server's own environment (a cloud key, an API token...): no container
# should see it unless the operator lists it.
SERVER_VARIABLE = "MCPD_RED_TEAM_CLOUD_KEY"


@pytest.fixture
async def scoped(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    """A server under label_scope."""
    policy = replace(Policy(), label_scope=SCOPE, experimental_tools=("dev-container",))
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


@pytest.fixture
async def read_only(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    """A server in read-only mode."""
    server = build_server(settings_for(unix_host, MCP_DOCKER_READ_ONLY="1"))
    async with Client(server, elicitation_callback=accept_all) as c:
        yield c


@pytest.fixture
def cleanup(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Folders whose dev containers and built images are removed after the test."""
    folders: list[str] = []
    yield folders
    for folder in folders:
        for leftover in containers_of(docker_client, folder):
            leftover.remove(force=True, v=True)
        for tag in built_images(docker_client, folder):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)


def canary_file(tmp_path: Path, where: str, text: str) -> Path:
    """A secret in a credential folder the host-path rule protects (``where`` is relative)."""
    path = tmp_path / "host" / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def everything_about(docker_client: docker.DockerClient, folder: str) -> str:
    """What a model could read of the folder's dev containers: their inspect, their environment
    and a /leak file a build may have written."""
    seen: list[str] = []
    for container in containers_of(docker_client, folder):
        seen.append(json.dumps(container.attrs))
        if container.status == "running":
            run = container.exec_run(["sh", "-c", "cat /leak 2>/dev/null; env"], user="0")
            seen.append(run.output.decode(errors="replace"))
    return "\n".join(seen)


def compose_project(folder: Path, image: str, service: str, files: dict[str, str] | None = None) -> str:
    """A Compose-based project: one service ``dev`` (plus the lines ``service``)."""
    key, _, value = LABEL.partition("=")
    compose = (
        f"services:\n  dev:\n    image: {image}\n    user: '0'\n"
        "    command: [sleep, '300']\n"
        f"    labels:\n      {key}: '{value}'\n" + service
    )
    config = {"dockerComposeFile": "compose.yaml", "service": "dev", "workspaceFolder": "/"}
    return write_project(folder, config, {"compose.yaml": compose, **(files or {})})


def compose_leftovers(docker_client: docker.DockerClient, name: str, *, remove: bool = False) -> list[str]:
    """The containers and networks of the Compose project of the folder ``name`` (removed, with
    ``remove``)."""
    project: dict[str, Any] = {"label": f"com.docker.compose.project={name}_devcontainer"}
    found: list[Any] = [
        *docker_client.containers.list(all=True, filters=project),
        *docker_client.networks.list(filters=project),
    ]
    if remove:
        for item in found:
            item.remove(**({"force": True} if hasattr(item, "status") else {}))
    return [str(item.name) for item in found]


def _processes_with(words: tuple[bytes, ...]) -> list[str]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(any(w == a or (w.startswith(b"/") and w in a) for a in argv) for w in words):
            found.append(pid)
    return found


@contextlib.contextmanager
def swapped(path: Path, text: str, needle: str, word: bytes, *, after_exit: bool = False) -> Iterator[None]:
    """Replace ``path`` with ``text`` as soon as a process whose argv has ``word`` and an
    argument containing ``needle`` starts (or, ``after_exit``, once it ended): what any writer
    of the project folder (a container that mounts the workspace) can do at any moment."""
    stop = threading.Event()

    def watch() -> None:
        words = (word, needle.encode())
        while not stop.is_set() and not _processes_with(words):
            time.sleep(0.002)
        while after_exit and not stop.is_set() and _processes_with(words):
            time.sleep(0.002)
        if not stop.is_set():
            staged = path.with_suffix(".new")
            staged.write_text(text)
            staged.replace(path)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


async def up(client: Client, folder: str) -> Any:
    return await client.call_tool("dev-container", {"folder": folder, "action": "up", "timeout": 300})


# --------------------------------------------------------------------------- holes found


async def test_exec_command_cannot_name_another_container_with_cli_options(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    # `command` goes to `devcontainer exec` after the server's own options, and that CLI reads
    # options until the first word that is not one: `--container-id X` would make it exec in X.
    # The victim is a privileged container made outside the server: exec-container refuses it.
    secret = f"victim-secret-{RUN_ID}"
    victim = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        privileged=True,
        labels={"io.mcp-docker-server.test-run": RUN_ID},
        environment={"DB_PASSWORD": secret},
    )
    # workspaceFolder "/" only so that the exec's working folder exists in the victim too.
    folder = write_project(
        tmp_path / "execinj",
        image_config(
            test_image,
            workspaceMount=f"source={tmp_path / 'execinj'},target=/workspaces/execinj,type=bind",
            workspaceFolder="/",
        ),
    )
    cleanup.append(folder)
    try:
        ok(await up(client, folder))
        refused_directly = error_text(
            await client.call_tool("exec-container", {"container_id": victim.id, "command": "true"})
        )
        assert "privileged" in refused_directly
        for injected in (
            ["--container-id", victim.id],
            ["--id-label", "io.mcp-docker-server.test-run=" + RUN_ID],
        ):
            result = await client.call_tool(
                "dev-container",
                {
                    "folder": folder,
                    "action": "exec",
                    "command": [*injected, "sh", "-c", "echo $DB_PASSWORD | rev; hostname"],
                },
            )
            shown = text_of(result)
            assert secret[::-1] not in shown, f"{injected[0]} reached another container: {shown}"
            assert str(victim.id)[:12] not in shown
    finally:
        victim.remove(force=True)


@pytest.mark.parametrize("how", ["runArgs label", "compose name"])
async def test_remove_does_not_take_down_another_compose_project(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    how: str,
) -> None:
    # `remove` took down the Compose project named by the com.docker.compose.project label of
    # the dev container: a label runArgs may set, or a project a Compose-based configuration
    # joins by naming it (`name:`).
    project = f"rtvictim{RUN_ID}"
    key, _, value = LABEL.partition("=")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "compose.yaml").write_text(
        f"services:\n  db:\n    image: {test_image}\n    command: [sleep, '300']\n"
        f"    labels:\n      {key}: '{value}'\n"
    )
    victim = {"compose_file": str(tmp_path / "victim"), "project_name": project}
    ok(await client.call_tool("compose-stack", {**victim, "action": "up"}))
    by_project: dict[str, Any] = {"label": f"com.docker.compose.project={project}"}
    if how == "runArgs label":
        folder = write_project(
            tmp_path / "downinj",
            image_config(test_image, runArgs=["--label", f"com.docker.compose.project={project}"]),
        )
    else:
        folder = compose_project(tmp_path / "downinj", test_image, f"name: {project}\n")
    cleanup.append(folder)
    try:
        made = await up(client, folder)
        removed = await client.call_tool("dev-container", {"folder": folder, "action": "remove"})
        left = docker_client.containers.list(all=True, filters=by_project)
        assert [c.name for c in left] == [f"{project}-db-1"], "remove took down another Compose project"
        if how == "runArgs label":
            ok(made)
            assert "kept" in text_of(removed)
        else:  # joining a project that holds another folder's containers is refused before create
            assert "devcontainer-owner" in error_text(made)
        assert containers_of(docker_client, folder) == []
    finally:
        await client.call_tool("compose-stack", {**victim, "action": "down"})
        for container in docker_client.containers.list(all=True, filters=by_project):
            container.remove(force=True)


async def test_initialize_command_swapped_in_after_the_check_never_runs_on_the_host(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # The pre-check reads devcontainer.json with `read-configuration`; `up` reads it again. A
    # writer of the folder (a process in a container that mounts the workspace) swaps it in
    # between: here, as soon as the `up` process starts.
    canary = tmp_path / "initialize-ran-on-the-host"
    folder = write_project(tmp_path / "swap", image_config(test_image))
    cleanup.append(folder)
    config_file = Path(folder) / ".devcontainer" / "devcontainer.json"
    swapped_in = json.loads(config_file.read_text())
    swapped_in["initializeCommand"] = f"touch {canary}"
    with swapped(config_file, json.dumps(swapped_in), folder, b"up"):
        await up(client, folder)
    assert not canary.exists(), "initializeCommand ran on the server's host"


async def test_config_does_not_return_a_host_file_through_a_symlinked_devcontainer_json(
    read_only: Client, tmp_path: Path
) -> None:
    # The folder passes the host-path rule; its devcontainer.json is a symlink to a credential
    # file, which `config` (allowed in read-only mode) parsed and returned.
    secret = f"docker-config-canary-{RUN_ID}"
    target = canary_file(tmp_path, ".docker/config.json", json.dumps({"credsStore": secret}))
    project = tmp_path / "symcfg" / ".devcontainer"
    project.mkdir(parents=True)
    (project / "devcontainer.json").symlink_to(target)
    result = await read_only.call_tool("dev-container", {"folder": str(project.parent), "action": "config"})
    assert secret not in text_of(result)


async def test_config_does_not_echo_the_server_environment(
    read_only: Client, tmp_path: Path, test_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI substitutes ${localEnv:NAME} with the server's own environment, and `config`
    # returns the substituted configuration, even in read-only mode.
    secret = f"server-env-canary-{RUN_ID}"
    monkeypatch.setenv(SERVER_VARIABLE, secret)
    folder = write_project(
        tmp_path / "envcfg", image_config(test_image, containerEnv={"K": f"${{localEnv:{SERVER_VARIABLE}}}"})
    )
    result = await read_only.call_tool("dev-container", {"folder": folder, "action": "config"})
    assert secret not in text_of(result)


@pytest.mark.parametrize("how", ["runArgs -e NAME", "containerEnv localEnv", "build-arg NAME"])
async def test_the_server_environment_does_not_reach_the_dev_container(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
    cleanup: list[str],
    how: str,
) -> None:
    # The docker CLI the shim runs inherits the server's environment: `-e NAME` and
    # `--build-arg NAME` copy a variable from it, and the Dev Containers CLI substitutes
    # ${localEnv:NAME}. (README: a server variable reaches a build secret only through
    # secret_env_allowlist.)
    secret = f"server-env-canary-{RUN_ID}"
    monkeypatch.setenv(SERVER_VARIABLE, secret)
    files: dict[str, str] = {}
    if how == "runArgs -e NAME":
        config = image_config(test_image, runArgs=["-e", SERVER_VARIABLE])
    elif how == "containerEnv localEnv":
        config = image_config(test_image, containerEnv={"K": f"${{localEnv:{SERVER_VARIABLE}}}"})
    else:
        config = {
            "build": {"dockerfile": "Dockerfile", "options": ["--build-arg", SERVER_VARIABLE]},
            "containerUser": "0",
        }
        files["Dockerfile"] = (
            DOCKERFILE.format(image=test_image)
            + f'ARG {SERVER_VARIABLE}\nRUN echo "k=${SERVER_VARIABLE}" > /leak\n'
        )
    folder = write_project(tmp_path / "envleak", config, files)
    cleanup.append(folder)
    await up(client, folder)
    assert secret not in everything_about(docker_client, folder)


@pytest.mark.parametrize(
    ("flag", "where"), [("--env-file", ".aws/credentials"), ("--label-file", ".aws/credentials")]
)
async def test_run_args_cannot_read_a_host_file_through_the_docker_cli(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    flag: str,
    where: str,
) -> None:
    # The docker CLI reads these files on the host and puts their lines in the container's
    # environment or labels; the engine's description shows only the values.
    secret = f"credential-canary-{RUN_ID}"
    path = canary_file(tmp_path, where, f"MCPD_RED_TEAM_KEY={secret}\n")
    folder = write_project(tmp_path / "fileread", image_config(test_image, runArgs=[flag, str(path)]))
    cleanup.append(folder)
    result = await up(client, folder)
    assert secret not in text_of(result)
    assert secret not in everything_about(docker_client, folder)


async def test_run_args_cannot_write_a_host_file_through_the_docker_cli(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # `--cidfile` makes the docker CLI write a file on the host (HostConfig.ContainerIDFile is
    # judged harmless), here into a credential folder the host-path rule protects.
    target = tmp_path / "host" / ".ssh" / "authorized_keys"
    target.parent.mkdir(parents=True)
    folder = write_project(tmp_path / "cidfile", image_config(test_image, runArgs=["--cidfile", str(target)]))
    cleanup.append(folder)
    await up(client, folder)
    assert not target.exists(), "the docker CLI wrote a file in a protected host folder"


async def test_a_compose_file_swapped_after_the_judge_is_not_what_runs(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # The shim renders, creates and judges the services, then the CLI's own `compose up` ran:
    # Compose read the files again and recreated a service whose configuration changed,
    # unjudged. Here the file is swapped once the shim's `compose create` (run on the private
    # copy of what was judged, in the call's folder) has finished.
    folder = compose_project(tmp_path / "crace", test_image, "")
    compose_file = Path(folder) / ".devcontainer" / "compose.yaml"
    evil = compose_file.read_text() + "    privileged: true\n    pid: host\n"
    private = f"{tempfile.gettempdir()}/mcp-devcontainer-"
    try:
        with swapped(compose_file, evil, private, b"create", after_exit=True):
            ok(await up(client, folder))
        assert compose_file.read_text() == evil, "the swap did not happen"
        for container in containers_of(docker_client, folder):
            host = container.attrs["HostConfig"]
            assert not host["Privileged"], "an unjudged privileged container runs"
            assert host["PidMode"] != "host"
    finally:
        compose_leftovers(docker_client, "crace", remove=True)


@pytest.mark.parametrize("key", ["env_file", "label_file"])
async def test_a_compose_env_file_in_a_credential_folder_is_refused(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, key: str
) -> None:
    # compose-stack judges env_file/label_file paths on a render without interpolation; the
    # shim judges `compose config --format json`, where Compose has already read the file into
    # `environment` (or `labels`) and dropped the key.
    secret = f"compose-credential-canary-{RUN_ID}"
    credentials = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    folder = compose_project(tmp_path / "cenv", test_image, f"    {key}: [{credentials}]\n")
    try:
        result = await up(client, folder)
        assert secret not in text_of(result)
        assert secret not in everything_about(docker_client, folder)
        assert result.is_error, "a Compose dev container read a credential file"
    finally:
        compose_leftovers(docker_client, "cenv", remove=True)


@pytest.mark.parametrize("tag", ["-t", "--tag="])
async def test_build_options_cannot_move_an_existing_name(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    tag: str,
) -> None:
    # build.options may add `-t NAME`: the build would then move an existing name (an image
    # other containers and the image allowlist trust) to what the project's Dockerfile made.
    victim = f"mcpd-red-team-victim-{RUN_ID}:1"
    docker_client.images.get(test_image).tag(victim)
    before = docker_client.images.get(victim).id
    options = ["-t", victim] if tag == "-t" else [f"--tag={victim}"]
    folder = write_project(
        tmp_path / "retag",
        {"build": {"dockerfile": "Dockerfile", "options": options}, "containerUser": "0"},
        {"Dockerfile": DOCKERFILE.format(image=test_image) + "RUN echo poisoned > /poisoned\n"},
    )
    cleanup.append(folder)
    try:
        text = error_text(await up(client, folder))
        assert docker_client.images.get(victim).id == before, "a dev container build moved an existing tag"
        assert "may not tag" in text, text
        assert containers_of(docker_client, folder) == []
    finally:
        docker_client.images.remove(victim, force=True)


# --------------------------------------------------------------------------- tried, blocked

BLOCKED_RUN_ARGS = [
    ["--privileged=true"],
    ["--privileged"],
    ["--cap-add=ALL"],
    ["--cap-add", "SYS_ADMIN"],
    ["--security-opt", "seccomp=unconfined"],
    ["--security-opt=systempaths=unconfined"],
    ["--security-opt", "apparmor=unconfined"],
    ["-v", "/:/host"],
    ["--volume=/etc:/h"],
    ["--mount", "type=bind,src=/,dst=/h"],
    ["--mount=type=bind,source=/var/run/docker.sock,target=/s"],
    ["--pid=host"],
    ["--pid", "host"],
    ["--network=host"],
    ["--net", "host"],
    ["--userns=host"],
    ["--ipc=host"],
    ["--uts=host"],
    ["--cgroupns=host"],
    ["--device", "/dev/null"],
    ["--device-cgroup-rule", "c 1:3 rmw"],
    ["--sysctl", "kernel.msgmax=65536"],
    ["--cgroup-parent", "/"],
    ["--oom-score-adj=-1000"],
    ["--log-driver", "syslog"],
    [
        "--mount",
        f"type=volume,src=mcpd-rt-{RUN_ID},dst=/h,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc",
    ],
]


@pytest.mark.parametrize("run_args", BLOCKED_RUN_ARGS, ids=lambda a: " ".join(a))
async def test_run_args_that_reach_the_host_are_refused_and_leave_nothing(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    folder = write_project(tmp_path / "runargs", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    text = error_text(await up(client, folder))
    assert "Denied by policy" in text or "Not run" in text, text
    assert containers_of(docker_client, folder) == []
    assert [v.name for v in docker_client.volumes.list() if RUN_ID in v.name] == []


@pytest.mark.parametrize(
    "extra",
    [
        {"workspaceMount": "source=/,target=/workspace,type=bind", "workspaceFolder": "/workspace"},
        {"workspaceMount": "source=/etc,target=/workspace,type=bind", "workspaceFolder": "/workspace"},
        {"workspaceMount": "source=/var/run/docker.sock,target=/w,type=bind", "workspaceFolder": "/w"},
        {"mounts": [{"source": "/etc", "target": "/host-etc", "type": "bind"}]},
        {"mounts": ["src=/root,dst=/r,type=bind"]},
        {"mounts": ["type=bind,source=/proc,target=/p"]},
        {"capAdd": ["SYS_PTRACE", "SYS_ADMIN"]},
        {"securityOpt": ["label=disable"]},
    ],
    ids=lambda e: json.dumps(e)[:60],
)
async def test_configuration_keys_that_reach_the_host_are_refused(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    extra: dict[str, Any],
) -> None:
    folder = write_project(tmp_path / "keys", image_config(test_image, **extra))
    cleanup.append(folder)
    text = error_text(await up(client, folder))
    assert "Denied by policy" in text, text
    assert containers_of(docker_client, folder) == []


@pytest.mark.parametrize(
    "service",
    [
        "    network_mode: host\n",
        "    pid: host\n",
        "    cap_add: [SYS_ADMIN]\n",
        "    volumes:\n      - /etc:/host-etc\n",
        "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n",
        "    build:\n      context: /\n      dockerfile: {dockerfile}\n",
        "    privileged: true\n",
        "    security_opt: [seccomp=unconfined]\n",
        "    secrets: [s]\nsecrets:\n  s:\n    file: {credentials}\n",
        "    configs: [c]\nconfigs:\n  c:\n    file: {credentials}\n",
        "    volumes:\n      - hv:/h\nvolumes:\n  hv:\n"
        "    driver_opts: {{type: none, o: bind, device: /etc}}\n",
        "    devices: [/dev/null]\n",
    ],
)
async def test_compose_services_that_reach_the_host_are_refused_and_leave_nothing(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    service: str,
) -> None:
    dockerfile = tmp_path / "cmp" / ".devcontainer" / "Dockerfile"
    folder = compose_project(
        tmp_path / "cmp",
        test_image,
        service.format(dockerfile=dockerfile, credentials=canary_file(tmp_path, ".aws/credentials", "K=v\n")),
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    cleanup.append(folder)
    text = error_text(await up(client, folder))
    assert "Denied by policy" in text, text
    assert compose_leftovers(docker_client, "cmp") == []


@pytest.mark.parametrize(
    "build",
    [
        {"dockerfile": "Dockerfile", "context": "/"},
        {"dockerfile": "Dockerfile", "options": ["--allow", "network.host"]},
        {"dockerfile": "Dockerfile", "options": ["--secret", "id=k,src=/etc/shadow"]},
        {"dockerfile": "Dockerfile", "options": ["--build-context", "h=/etc"]},
        {"dockerfile": "Dockerfile", "options": ["--output", "type=local,dest=/tmp"]},
        {"dockerfile": "Dockerfile", "options": ["--cache-to", "type=local,dest=/tmp"]},
        {"dockerfile": "Dockerfile", "options": ["--ssh", "default"]},
        {"dockerfile": "Dockerfile", "options": ["--file=/etc/shadow"]},
    ],
    ids=lambda b: json.dumps(b)[:70],
)
async def test_builds_that_reach_the_host_are_refused_and_build_nothing(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    build: dict[str, Any],
) -> None:
    folder = write_project(
        tmp_path / "bld",
        {"build": build, "containerUser": "0"},
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    cleanup.append(folder)
    text = error_text(await up(client, folder))
    assert "Denied by policy" in text or "Not run" in text, text
    assert containers_of(docker_client, folder) == []
    assert built_images(docker_client, folder) == []


async def test_a_local_feature_asking_for_privileged_does_not_get_it(
    builder_client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
) -> None:
    # A Feature's devcontainer-feature.json adds privileged, capabilities and mounts to the
    # container the CLI runs; the pre-check does not read Features, the shim's judge must.
    # (BuildKit: the CLI's --build-context is refused; classic: the shim refuses privileged.)
    folder = write_project(
        tmp_path / "feat",
        {"build": {"dockerfile": "Dockerfile"}, "containerUser": "0", "features": {"./evil": {}}},
        {"Dockerfile": DOCKERFILE.format(image=test_image) + "RUN echo root:x:0: > /etc/group\n"},
    )
    feature = Path(folder) / ".devcontainer" / "evil"
    feature.mkdir()
    (feature / "devcontainer-feature.json").write_text(
        json.dumps(
            {
                "id": "evil",
                "version": "1.0.0",
                "privileged": True,
                "capAdd": ["SYS_ADMIN"],
                "mounts": [{"source": "/etc", "target": "/host-etc", "type": "bind"}],
            }
        )
    )
    (feature / "install.sh").write_text("#!/bin/sh\ntrue\n")
    cleanup.append(folder)
    text = error_text(await up(builder_client, folder))
    for container in containers_of(docker_client, folder):
        assert not container.attrs["HostConfig"]["Privileged"]
    assert "Denied by policy" in text or "Not run" in text, text
    assert containers_of(docker_client, folder) == []


async def test_an_existing_dev_container_outside_the_scope_is_not_started_or_entered(
    scoped: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, unique_name: str
) -> None:
    # The CLI finds a folder's container by its labels: someone else's dev container for the
    # same folder, outside the scope, would get the project's lifecycle commands run in it.
    folder = tmp_path / "theirs"
    config_file = folder / ".devcontainer" / "devcontainer.json"
    write_project(
        folder,
        image_config(test_image, workspaceFolder="/", postAttachCommand="touch /attacked"),
    )
    theirs = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        labels={
            "io.mcp-docker-server.test-run": RUN_ID,
            "devcontainer.local_folder": str(folder),
            "devcontainer.config_file": str(config_file),
        },
    )
    try:
        for action in ("up", "exec"):
            text = error_text(
                await scoped.call_tool(
                    "dev-container", {"folder": str(folder), "action": action, "command": "touch /attacked"}
                )
            )
            assert "label_scope" in text
        assert "attacked" not in str(theirs.exec_run(["ls", "/"]).output)
    finally:
        theirs.remove(force=True)


async def test_exec_command_cannot_swap_the_docker_program(
    client: Client, tmp_path: Path, test_image: str, cleanup: list[str]
) -> None:
    # A second --docker-path in `command` would make the CLI run a host program as docker.
    canary = tmp_path / "fake-docker-ran"
    fake = tmp_path / "fake-docker"
    fake.write_text(f"#!/bin/sh\ntouch {canary}\nexit 1\n")
    fake.chmod(0o755)
    folder = write_project(tmp_path / "dockerpath", image_config(test_image))
    cleanup.append(folder)
    ok(await up(client, folder))
    for injected in (["--docker-path", str(fake)], [f"--docker-path={fake}"]):
        await client.call_tool(
            "dev-container", {"folder": folder, "action": "exec", "command": [*injected, "true"]}
        )
    assert not canary.exists()


async def test_a_project_folder_that_is_a_symlink_into_the_host_is_refused(
    client: Client, tmp_path: Path
) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    text = error_text(await up(client, str(link)))
    assert "resolves to /etc" in text
    assert "allow_sensitive_binds = true" in text


# --------------------------------------------------------------------------- label_scope


@pytest.fixture
def outside_volume(docker_client: docker.DockerClient, test_image: str) -> Iterator[tuple[str, str]]:
    """A named volume outside the scope (another tenant's data), holding a secret: (name, secret)."""
    name = f"mcpd-red-team-vol-{RUN_ID}"
    secret = f"volume-canary-{RUN_ID}"
    docker_client.volumes.create(name, labels={"io.mcp-docker-server.test-run": RUN_ID})
    docker_client.containers.run(
        test_image,
        ["sh", "-c", f"echo {secret} > /v/secret"],
        volumes={name: {"bind": "/v", "mode": "rw"}},
        remove=True,
        labels={"io.mcp-docker-server.test-run": RUN_ID},
    )
    yield name, secret
    for container in docker_client.containers.list(all=True, filters={"volume": name}):
        container.remove(force=True)
    docker_client.volumes.get(name).remove(force=True)


@pytest.mark.parametrize("how", ["mounts", "runArgs -v", "runArgs --volumes-from"])
async def test_under_label_scope_a_dev_container_cannot_mount_a_volume_outside_it(
    scoped: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    outside_volume: tuple[str, str],
    cleanup: list[str],
    unique_name: str,
    how: str,
) -> None:
    # README: named volumes given to run-container must carry the scope label. The judge the
    # shim shares with run-container reads drivers and options, not labels.
    volume, secret = outside_volume
    run_args = ["--label", SCOPE]
    extra: dict[str, Any] = {}
    if how == "mounts":
        extra["mounts"] = [f"source={volume},target=/v,type=volume"]
    elif how == "runArgs -v":
        run_args += ["-v", f"{volume}:/v"]
    else:
        holder = docker_client.containers.create(
            test_image,
            ["true"],
            name=unique_name,
            volumes={volume: {"bind": "/v", "mode": "rw"}},
            labels={"io.mcp-docker-server.test-run": RUN_ID},
        )
        run_args += ["--volumes-from", str(holder.id)]
    folder = write_project(tmp_path / "vol", image_config(test_image, runArgs=run_args, **extra))
    cleanup.append(folder)
    result = await up(scoped, folder)
    if not result.is_error:
        read = await scoped.call_tool(
            "dev-container", {"folder": folder, "action": "exec", "command": "cat /v/secret"}
        )
        assert secret not in text_of(read), "a volume outside the scope was read"
    assert result.is_error


async def test_under_label_scope_a_dev_container_cannot_join_a_network_outside_it(
    scoped: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # README: networks given to run-container must carry the scope label.
    network = docker_client.networks.create(
        f"mcpd-red-team-net-{RUN_ID}", labels={"io.mcp-docker-server.test-run": RUN_ID}
    )
    folder = write_project(
        tmp_path / "net", image_config(test_image, runArgs=["--label", SCOPE, "--network", network.name])
    )
    cleanup.append(folder)
    try:
        result = await up(scoped, folder)
        joined = [
            c.name
            for c in containers_of(docker_client, folder)
            if network.name in c.attrs["NetworkSettings"]["Networks"]
        ]
        assert joined == [], "a dev container joined a network outside the scope"
        assert result.is_error
    finally:
        for container in containers_of(docker_client, folder):
            container.remove(force=True)
        network.remove()


async def test_under_label_scope_compose_dev_containers_stay_in_the_scope(
    scoped: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    outside_volume: tuple[str, str],
) -> None:
    # README: compose-stack is refused while a scope is set (a project's files label its
    # resources). A Compose-based dev container runs Compose anyway: its services do not carry
    # the scope label, and an external volume outside the scope is theirs to read.
    volume, secret = outside_volume
    folder = compose_project(
        tmp_path / "cscope",
        test_image,
        f"    volumes:\n      - {volume}:/v\nvolumes:\n  {volume}:\n    external: true\n",
    )
    try:
        result = await up(scoped, folder)
        for container in containers_of(docker_client, folder):
            assert container.labels.get(SCOPE_KEY) == RUN_ID, "a Compose service outside the scope"
            seen = container.exec_run(["cat", "/v/secret"]).output.decode(errors="replace")
            assert secret not in seen, "an external volume outside the scope was mounted"
        assert result.is_error
    finally:
        compose_leftovers(docker_client, "cscope", remove=True)


async def test_remove_keeps_images_the_cli_did_not_build_for_the_folder(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # `remove` deleted the container's image when its name started with vsc- (the CLI's prefix
    # for what it builds); devcontainer.json may name any such image, another folder's included.
    victim = f"vsc-red-team-victim-{RUN_ID}:latest"
    docker_client.images.get(test_image).tag(victim)
    folder = write_project(tmp_path / "rmimg", image_config(victim))
    cleanup.append(folder)
    try:
        ok(await up(client, folder))
        removed = ok(await client.call_tool("dev-container", {"folder": folder, "action": "remove"}))
        assert victim in [t for image in docker_client.images.list() for t in image.tags]
        assert removed.get("removed_images", []) == []
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(victim)


@pytest.mark.parametrize(
    "run_args",
    [["--link", "{victim}:db"], ["--pid", "container:{victim}"], ["--network", "container:{victim}"]],
    ids=lambda a: a[0],
)
async def test_under_label_scope_a_dev_container_cannot_reach_into_a_container_outside_it(
    scoped: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    # A legacy link hands the linked container's environment over (DB_ENV_<NAME>=...), and
    # HostConfig.Links on the default bridge and shared namespaces are refused.
    secret = f"linked-canary-{RUN_ID}"
    victim = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        labels={"io.mcp-docker-server.test-run": RUN_ID},
        environment={"DB_PASSWORD": secret},
    )
    args = ["--label", SCOPE, *(a.format(victim=unique_name) for a in run_args)]
    folder = write_project(tmp_path / "link", image_config(test_image, runArgs=args))
    cleanup.append(folder)
    try:
        result = await up(scoped, folder)
        assert secret not in everything_about(docker_client, folder), "another container's secret is seen"
        assert result.is_error
    finally:
        for container in containers_of(docker_client, folder):
            container.remove(force=True)
        victim.remove(force=True)


async def test_under_label_scope_exec_runs_only_in_the_container_it_judged(
    scoped: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, unique_name: str
) -> None:
    # exec judges the newest running container with the folder label, and the CLI then picks
    # its own by the folder and config file labels. A decoy in the scope (run-container may set
    # any label) that lacks the config file label is judged; the CLI execs in someone else's
    # dev container of the same folder, outside the scope.
    secret = f"their-dev-container-{RUN_ID}"
    folder = tmp_path / "shared"
    write_project(folder, image_config(test_image, workspaceFolder="/"))
    config_file = folder / ".devcontainer" / "devcontainer.json"
    theirs = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        environment={"DB_PASSWORD": secret},
        labels={
            "io.mcp-docker-server.test-run": RUN_ID,
            "devcontainer.local_folder": str(folder),
            "devcontainer.config_file": str(config_file),
        },
    )
    decoy = ok(
        await scoped.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["sleep", "300"],
                "labels": {"devcontainer.local_folder": str(folder), LABEL.split("=")[0]: RUN_ID},
            },
        )
    )
    try:
        result = await scoped.call_tool(
            "dev-container",
            {"folder": str(folder), "action": "exec", "command": ["sh", "-c", "echo $DB_PASSWORD | rev"]},
        )
        assert secret[::-1] not in text_of(result), "exec ran in a dev container outside the scope"
    finally:
        theirs.remove(force=True)
        docker_client.containers.get(decoy["id"]).remove(force=True)


@pytest.mark.parametrize(
    "service",
    [
        # Refused by the judge after `compose create`: the volume and network it made go too.
        "    privileged: true\n    volumes:\n      - data:/data\nvolumes:\n  data: {}\n",
        # Refused by the engine during the shim's `compose create` ("h:" reads as a drive).
        "    volumes:\n      - data:/data\n      - h:/h\nvolumes:\n  data: {}\n",
    ],
    ids=["judge", "engine"],
)
async def test_a_compose_dev_container_that_fails_leaves_no_network_or_volume(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, service: str
) -> None:
    volumes_before = {v.name for v in docker_client.volumes.list()}
    folder = compose_project(tmp_path / "cfail", test_image, service)
    try:
        error_text(await up(client, folder))
        made = {v.name for v in docker_client.volumes.list()} - volumes_before
        made = {name for name in made if name.startswith("cfail_devcontainer")}  # others test too
        assert (compose_leftovers(docker_client, "cfail"), made) == ([], set())
    finally:
        compose_leftovers(docker_client, "cfail", remove=True)
        for name in {v.name for v in docker_client.volumes.list()} - volumes_before:
            if name.startswith("cfail_devcontainer"):
                docker_client.volumes.get(name).remove(force=True)


@pytest.mark.parametrize("run_args", [["-P", "--expose", "7999"], ["--publish-all", "--expose=7999"]])
async def test_published_ports_bind_only_to_the_publish_address(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    # README: ports without an address bind to MCP_DOCKER_PUBLISH_ADDRESS (127.0.0.1 here), as
    # for run-container. `-P` publishes every exposed port on every interface, and
    # HostConfig.PublishAllPorts is judged harmless.
    folder = write_project(tmp_path / "puball", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    await up(client, folder)
    for container in containers_of(docker_client, folder):
        container.reload()
        bound = [
            b["HostIp"]
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values()
            for b in bindings or []
        ]
        assert set(bound) <= {"127.0.0.1"}, f"published on {bound}"


@pytest.mark.parametrize(
    "extra",
    [
        {"runArgs": ["--security-opt", "no-new-privileges=false"]},
        {"runArgs": ["--security-opt=no-new-privileges:false"]},
        {"securityOpt": ["no-new-privileges=false"]},
    ],
    ids=lambda e: json.dumps(e)[:50],
)
async def test_the_policy_no_new_privileges_default_cannot_be_turned_off(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    extra: dict[str, Any],
) -> None:
    # The shim adds no-new-privileges=true unless the command line names no-new-privileges at
    # all, and the judge accepts "false" (the engine's default): setuid binaries work again.
    folder = write_project(tmp_path / "nnp", image_config(test_image, **extra))
    cleanup.append(folder)
    await up(client, folder)
    for container in containers_of(docker_client, folder):
        options = container.attrs["HostConfig"]["SecurityOpt"] or []
        assert any(o in ("no-new-privileges=true", "no-new-privileges:true") for o in options), options


async def test_build_dockerfile_cannot_be_a_host_credential_file(
    client: Client, tmp_path: Path, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # build.dockerfile may name any file: the CLI reads it itself and copies its text into the
    # Dockerfile-with-features it writes under /tmp, the file whose path the shim judges.
    secret = f"dockerfile-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    folder = write_project(tmp_path / "dfile", {"build": {"dockerfile": str(path)}, "containerUser": "0"})
    cleanup.append(folder)
    # Not judged before the CLI reads it, but what the CLI says of it does not carry its text
    # (the CLI wants a FROM line first).
    assert secret not in error_text(await up(client, folder))


async def test_a_legacy_link_cannot_copy_another_containers_environment(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    unique_name: str,
    cleanup: list[str],
) -> None:
    # On the default bridge, `--link victim:db` hands the victim's environment over as
    # DB_ENV_<NAME>; inspect-container hides secret-looking values, exec-container into a
    # container the policy would not create is refused.
    secret = f"linked-canary-{RUN_ID}"
    victim = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=unique_name,
        detach=True,
        labels={"io.mcp-docker-server.test-run": RUN_ID},
        environment={"DB_PASSWORD": secret},
    )
    folder = write_project(
        tmp_path / "link", image_config(test_image, runArgs=["--link", f"{unique_name}:db"])
    )
    cleanup.append(folder)
    try:
        text = error_text(await up(client, folder))
        assert "legacy links" in text, text
        assert 'allow_container_fields = ["HostConfig.Links"]' in text
        assert secret not in everything_about(docker_client, folder)
        assert containers_of(docker_client, folder) == []
    finally:
        victim.remove(force=True)
