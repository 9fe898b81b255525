"""Red team 6: dev-container, attacks not in test_red_team_devcontainer.py.

Every test asserts the SAFE outcome against the real engine, the real Dev Containers CLI and the
real docker CLI. The first group were holes when written (closed since; each test says what the
fault was). Canaries live under pytest's tmp_path, in folders the host-path rule
protects (``.aws``, ``.docker``, ``.ssh``); everything made is removed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, RUN_ID, accept_all, settings_for, text_of
from tests.integration.test_devcontainers import (
    DOCKERFILE,
    built_images,
    containers_of,
    image_config,
    write_project,
)
from tests.security.test_red_team_devcontainer import (
    canary_file,
    cleanup,
    compose_leftovers,
    everything_about,
    up,
)

__all__ = ["cleanup"]  # a fixture, used by name

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

# A service that stops at once on SIGTERM (a recreate or a down does not wait 10 s for it).
QUICK_STOP = "[sh, -c, \"trap 'exit 0' TERM; while sleep 1; do :; done\"]"


async def _client_with(unix_host: str, **policy: Any) -> AsyncIterator[Client]:
    rules = replace(Policy(), experimental_tools=("dev-container",), **policy)
    async with Client(
        build_server(settings_for(unix_host), policy=rules), elicitation_callback=accept_all
    ) as c:
        yield c


@pytest.fixture
async def no_root_exec(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    """A server whose policy forbids exec as root."""
    async for c in _client_with(unix_host, allow_root_exec=False):
        yield c


@pytest.fixture
async def unconfined_ok(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    """A server whose operator allows custom seccomp/AppArmor profiles (allow_unconfined)."""
    async for c in _client_with(unix_host, allow_unconfined=True):
        yield c


def compose_config(folder: Path, image: str, service: str, **extra: Any) -> str:
    """A Compose-based project: service ``dev`` (plus the lines ``service``), root by uid (the
    test image has no passwd), ``extra`` devcontainer.json keys."""
    key, _, value = LABEL.partition("=")
    compose = (
        f"services:\n  dev:\n    image: {image}\n    user: '0'\n    command: {QUICK_STOP}\n"
        f"    labels:\n      {key}: '{value}'\n" + service
    )
    config = {
        "dockerComposeFile": "compose.yaml",
        "service": "dev",
        "workspaceFolder": "/",
        "remoteUser": "0",
        **extra,
    }
    return write_project(folder, config, {"compose.yaml": compose})


def compose_build(folder: Path, image: str, marker: str, *, extra: str = "", image_name: str = "") -> str:
    """A Compose-based project whose service ``dev`` is built from a Dockerfile labelled
    ``rt6=<marker>`` (named ``image_name``, else Compose's own name)."""
    service = "    build:\n      context: .\n      dockerfile: Dockerfile\n" + extra
    made = compose_config(folder, image, service)
    compose = Path(made) / ".devcontainer" / "compose.yaml"
    compose.write_text(
        compose.read_text().replace(
            f"    image: {image}\n", f"    image: {image_name}\n" if image_name else ""
        )
    )
    (Path(made) / ".devcontainer" / "Dockerfile").write_text(
        DOCKERFILE.format(image=image) + f"LABEL rt6={marker}\n"
    )
    return made


def published_on(docker_client: docker.DockerClient, folder: str) -> set[str]:
    """The host addresses the folder's dev containers publish ports on ("" is every one)."""
    found: set[str] = set()
    for container in containers_of(docker_client, folder):
        container.reload()
        for bindings in (container.attrs["HostConfig"]["PortBindings"] or {}).values():
            found |= {b["HostIp"] or "0.0.0.0" for b in bindings or []}
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            found |= {b["HostIp"] for b in bindings or []}
    return found


def labelled_images(docker_client: docker.DockerClient, marker: str) -> list[Any]:
    return list(docker_client.images.list(filters={"label": f"rt6={marker}"}))


# --------------------------------------------------------------------------- holes found, closed


@pytest.mark.parametrize("run_args", [["-tp9999:80"], ["-tp", "9998:80"]], ids=["attached", "separate"])
async def test_a_port_in_a_short_flag_cluster_binds_only_to_the_publish_address(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    # README: ports without an address bind to MCP_DOCKER_PUBLISH_ADDRESS (127.0.0.1 here).
    folder = write_project(tmp_path / "cluster", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    await up(client, folder)
    assert published_on(docker_client, folder) <= {"127.0.0.1"}


@pytest.mark.parametrize("flag", ["--env-file", "--label-file", "--cidfile"])
async def test_a_short_flag_cluster_does_not_hide_host_file_options(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    flag: str,
) -> None:
    # The shim refuses these (the docker CLI reads or writes the host file itself) only when
    # its own scan of the command line reaches them.
    secret = f"credential-canary-{RUN_ID}"
    if flag == "--cidfile":
        path = tmp_path / "host" / ".ssh" / "authorized_keys"
        path.parent.mkdir(parents=True)
    else:
        path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    run_args = ["-te", "X=1", flag, str(path)]
    folder = write_project(tmp_path / "clusterfile", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    result = await up(client, folder)
    assert secret not in everything_about(docker_client, folder), "a host credential file was read"
    assert flag != "--cidfile" or not path.exists(), "the docker CLI wrote a file in a protected folder"
    assert result.is_error


@pytest.mark.parametrize("victim_kind", ["privileged foreign container", "another folder's dev container"])
async def test_a_compose_dev_container_runs_its_commands_only_in_its_own_container(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    unique_name: str,
    victim_kind: str,
) -> None:
    # A configuration names another Compose project (`name:`) whose service is called like its
    # own; or two folders share a base name (/a/app and /b/app are both app_devcontainer).
    project = f"rt6p{RUN_ID}"
    if victim_kind == "privileged foreign container":
        victim = docker_client.containers.run(
            test_image,
            ["sleep", "300"],
            name=unique_name,
            detach=True,
            privileged=True,
            labels={
                "io.mcp-docker-server.test-run": RUN_ID,
                "com.docker.compose.project": project,
                "com.docker.compose.service": "dev",
            },
        )
        folder = compose_config(
            tmp_path / "joiner", test_image, f"name: {project}\n", postAttachCommand="touch /attacked"
        )
    else:
        other = compose_config(tmp_path / "a" / "twin6", test_image, "")
        assert not (await up(client, other)).is_error
        [victim] = containers_of(docker_client, other)
        folder = compose_config(tmp_path / "b" / "twin6", test_image, "", postAttachCommand="touch /attacked")
    try:
        result = await up(client, folder)
        seen = str(victim.exec_run(["ls", "/"]).output)
        assert "attacked" not in seen, "a lifecycle command ran in a container that is not the folder's"
        assert str(victim.id)[:12] not in text_of(result), "up handed back a container not the folder's"
    finally:
        victim.remove(force=True)
        compose_leftovers(docker_client, "twin6", remove=True)
        compose_leftovers(docker_client, "joiner", remove=True)


async def test_a_compose_dev_container_does_not_recreate_another_projects_service(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    project = f"rt6victim{RUN_ID}"
    key, _, value = LABEL.partition("=")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "compose.yaml").write_text(
        f"services:\n  db:\n    image: {test_image}\n    command: {QUICK_STOP}\n"
        f"    labels:\n      {key}: '{value}'\n"
    )
    victim = {"compose_file": str(tmp_path / "victim"), "project_name": project}
    assert not (await client.call_tool("compose-stack", {**victim, "action": "up"})).is_error
    by_project: dict[str, Any] = {"label": f"com.docker.compose.project={project}"}
    [theirs] = docker_client.containers.list(all=True, filters=by_project)
    folder = compose_config(
        tmp_path / "hijack",
        test_image,
        f"  db:\n    image: {test_image}\n    command: [sleep, '301']\n"
        f"    labels:\n      {key}: '{value}'\nname: {project}\n",
    )
    try:
        await up(client, folder)
        left = {c.id for c in docker_client.containers.list(all=True, filters=by_project)}
        assert theirs.id in left, "another project's container was recreated"
    finally:
        for container in docker_client.containers.list(all=True, filters=by_project):
            container.remove(force=True)
        for network in docker_client.networks.list(filters=by_project):
            network.remove()


@pytest.mark.parametrize("how", ["image", "build.tags"])
async def test_a_compose_build_cannot_move_an_existing_name(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, how: str
) -> None:
    victim = f"mcpd-rt6-victim-{RUN_ID}:{how.replace('.', '')}"
    docker_client.images.get(test_image).tag(victim)
    before = docker_client.images.get(victim).id
    if how == "image":
        folder = compose_build(tmp_path / "cretag", test_image, f"{RUN_ID}-t", image_name=victim)
    else:
        folder = compose_build(
            tmp_path / "cretag", test_image, f"{RUN_ID}-t", extra=f"      tags: ['{victim}']\n"
        )
    try:
        await up(client, folder)
        assert docker_client.images.get(victim).id == before, "a dev container build moved an existing tag"
    finally:
        compose_leftovers(docker_client, "cretag", remove=True)
        docker_client.images.remove(victim, force=True)
        for image in labelled_images(docker_client, f"{RUN_ID}-t"):
            docker_client.images.remove(image.id, force=True)


@pytest.mark.parametrize("how", ["up then remove", "refused up"])
async def test_a_compose_dev_container_leaves_no_built_image(
    client: Client,
    no_root_exec: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    how: str,
) -> None:
    marker = f"{RUN_ID}-{how[0]}"
    folder = compose_build(tmp_path / "cbuilt", test_image, marker)
    try:
        if how == "up then remove":
            assert not (await up(client, folder)).is_error
            await client.call_tool("dev-container", {"folder": folder, "action": "remove"})
        else:
            # Refused after the build: the CLI's first exec is as root, which this policy forbids.
            assert "root-exec" in text_of(await up(no_root_exec, folder))
        left = [image.tags for image in labelled_images(docker_client, marker)]
        assert (compose_leftovers(docker_client, "cbuilt"), left) == ([], [])
    finally:
        compose_leftovers(docker_client, "cbuilt", remove=True)
        for image in labelled_images(docker_client, marker):
            docker_client.images.remove(image.id, force=True)


@pytest.mark.parametrize("how", ["runArgs", "securityOpt"])
async def test_a_seccomp_profile_path_is_judged_by_the_host_path_rule(
    unconfined_ok: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    how: str,
) -> None:
    # The operator allows custom profiles (allow_unconfined), not reading credential files.
    secret = f"registry-auth-canary-{RUN_ID}"
    path = canary_file(
        tmp_path, ".docker/config.json", json.dumps({"auths": {"r.example": {"auth": secret}}})
    )
    option = f"seccomp={path}"
    if how == "runArgs":
        config = image_config(test_image, runArgs=["--security-opt", option])
    else:
        config = image_config(test_image, securityOpt=[option])
    folder = write_project(tmp_path / "seccomp", config)
    cleanup.append(folder)
    result = await up(unconfined_ok, folder)
    seen = text_of(result) + everything_about(docker_client, folder)
    assert secret not in seen, "a host credential file was read into the container's configuration"
    assert result.is_error


async def test_compose_ports_bind_only_to_the_publish_address(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = compose_config(tmp_path / "cports", test_image, "    ports: ['9996:80']\n")
    try:
        await up(client, folder)
        assert published_on(docker_client, folder) <= {"127.0.0.1"}
    finally:
        compose_leftovers(docker_client, "cports", remove=True)


async def test_a_dev_container_that_fails_to_start_leaves_nothing(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    folder = write_project(tmp_path / "nostart", image_config(test_image, runArgs=["--gpus", "all"]))
    cleanup.append(folder)
    assert (await up(client, folder)).is_error
    assert containers_of(docker_client, folder) == []


# --------------------------------------------------------------------------- tried, held


@pytest.mark.parametrize(
    "run_args",
    [
        ["--use-api-socket"],
        ["-tv", "/etc:/h"],
        ["-it", "--volume", "/etc:/h:z"],
        ["-tu0", "--privileged"],
        [
            "--mount",
            "type=volume,src=rt6v,dst=/h,volume-driver=local,"
            "volume-opt=device=/etc,volume-opt=o=bind,volume-opt=type=none",
        ],
    ],
    ids=lambda a: " ".join(a)[:40],
)
async def test_more_run_args_that_reach_the_host_are_refused_and_leave_nothing(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    folder = write_project(tmp_path / "runargs6", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    text = text_of(await up(client, folder))
    assert "Denied by policy" in text, text
    assert containers_of(docker_client, folder) == []
    assert [v.name for v in docker_client.volumes.list() if v.name == "rt6v"] == []


@pytest.mark.parametrize("user", ["00", "0:1000", "root:root"])
async def test_root_exec_spellings_are_refused_when_the_policy_forbids_it(
    no_root_exec: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    user: str,
) -> None:
    folder = write_project(
        tmp_path / "rootexec",
        image_config(test_image, remoteUser=user, updateRemoteUserUID=False, postCreateCommand="touch /ran"),
    )
    cleanup.append(folder)
    text = text_of(await up(no_root_exec, folder))
    assert "root-exec" in text, text
    assert containers_of(docker_client, folder) == []


async def test_a_local_feature_cannot_copy_a_host_file_into_the_image_through_a_link(
    classic_client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
) -> None:
    # The feature folder is copied beside the judged configuration with its links as links;
    # the CLI copies it again into its build context, where install.sh runs in the build.
    secret = f"feature-link-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    folder = write_project(
        tmp_path / "featlink",
        {"build": {"dockerfile": "Dockerfile"}, "containerUser": "0", "features": {"./evil": {}}},
        {"Dockerfile": DOCKERFILE.format(image=test_image) + "RUN echo root:x:0: > /etc/group\n"},
    )
    feature = Path(folder) / ".devcontainer" / "evil"
    feature.mkdir()
    (feature / "devcontainer-feature.json").write_text(json.dumps({"id": "evil", "version": "1.0.0"}))
    (feature / "install.sh").write_text("#!/bin/sh\ncat ./loot > /leak 2>&1 || true\n")
    (feature / "loot").symlink_to(path)
    cleanup.append(folder)
    result = await up(classic_client, folder)
    seen = text_of(result) + everything_about(docker_client, folder)
    for tag in built_images(docker_client, folder):
        seen += docker_client.containers.run(tag, ["cat", "/leak"], remove=True, user="0").decode(
            errors="replace"
        )
    assert secret not in seen, "a host credential file reached the image"


async def test_a_compose_file_in_a_credential_folder_is_not_echoed(
    client: Client, tmp_path: Path, test_image: str, cleanup: list[str]
) -> None:
    # dockerComposeFile may name any file: Compose's parse errors must not carry its text.
    secret = f"compose-file-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"[default]\naws_secret_access_key = {secret}\n")
    folder = write_project(
        tmp_path / "cfile", {"dockerComposeFile": str(path), "service": "dev", "workspaceFolder": "/"}
    )
    cleanup.append(folder)
    result = await up(client, folder)
    assert result.is_error
    assert secret not in text_of(result)


async def test_config_of_a_compose_project_does_not_return_an_env_file_it_names(
    tmp_path: Path, test_image: str, unix_host: str, docker_client: docker.DockerClient
) -> None:
    # Read-only mode keeps `config`; a Compose render would read env_file into `environment`.
    secret = f"config-env-file-canary-{RUN_ID}"
    credentials = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    folder = compose_config(tmp_path / "cfgenv", test_image, f"    env_file: [{credentials}]\n")
    server = build_server(settings_for(unix_host, MCP_DOCKER_READ_ONLY="1"))
    async with Client(server, elicitation_callback=accept_all) as read_only:
        result = await read_only.call_tool("dev-container", {"folder": folder, "action": "config"})
    assert secret not in text_of(result)
