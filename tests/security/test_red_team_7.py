"""Red team 7: dev-container, attacks not in test_red_team_devcontainer.py or test_red_team_6.py.

Every test asserts the SAFE (or the documented) outcome against the real engine, the real Dev
Containers CLI and the real docker CLI. The first two groups were holes (security) and faults
(usability) when written, closed since (01a24c5): the comment above each says what happened and
where. Canaries live under pytest's tmp_path, in folders the host-path rule protects (``.aws``,
``.docker``); every image built here has a name of its own and is removed; the shared test
image is never tagged.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL, RUN_ID, ok, text_of
from tests.integration.test_devcontainers import (
    DOCKERFILE,
    built_images,
    containers_of,
    image_config,
    write_project,
)
from tests.security.test_red_team_6 import (
    QUICK_STOP,
    compose_build,
    compose_config,
    labelled_images,
    published_on,
    unconfined_ok,
)
from tests.security.test_red_team_devcontainer import (
    canary_file,
    cleanup,
    compose_leftovers,
    everything_about,
    up,
)

__all__ = ["cleanup", "unconfined_ok"]  # fixtures, used by name

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

OWNER_LABEL = "io.mcp-docker-server.devcontainer"  # names.OWNER_LABEL, spelled out as a model would


def project_of(folder: str) -> dict[str, Any]:
    """The label filter of the Compose project the CLI names after the folder."""
    return {"label": f"com.docker.compose.project={Path(folder).name.lower()}_devcontainer"}


def project_view(docker_client: docker.DockerClient, folder: str) -> str:
    """Every container of the folder's Compose project, as inspect shows it, and its env."""
    seen = []
    for container in docker_client.containers.list(all=True, filters=project_of(folder)):
        seen.append(json.dumps(container.attrs))
        if container.status == "running":
            seen.append(str(container.exec_run(["env"], user="0").output))
    return "\n".join(seen)


def built_file(docker_client: docker.DockerClient, folder: str, path: str) -> str:
    """The file ``path`` in each image the CLI built for ``folder``."""
    seen = ""
    for tag in built_images(docker_client, folder):
        with contextlib.suppress(docker.errors.ContainerError):
            seen += docker_client.containers.run(tag, ["cat", path], remove=True, user="0").decode(
                errors="replace"
            )
    return seen


@contextlib.contextmanager
def own_image(docker_client: docker.DockerClient, name: str, dockerfile: str) -> Iterator[str]:
    """An image of the test's own (never the shared test image), removed afterwards."""
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=name, rm=True)
    try:
        yield str(image.id)
    finally:
        for ref in (name, str(image.id)):
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                docker_client.images.remove(ref, force=True)


def tags_of(docker_client: docker.DockerClient) -> list[str]:
    return [t for image in docker_client.images.list() for t in image.tags]


def compose_volumes(docker_client: docker.DockerClient, folder: str) -> list[str]:
    return [v.name for v in docker_client.volumes.list(filters=project_of(folder))]


def remove_compose_volumes(docker_client: docker.DockerClient, folder: str) -> None:
    for volume in docker_client.volumes.list(filters=project_of(folder)):
        volume.remove(force=True)


def db_project(folder: Path, image: str, **extra: Any) -> str:
    """What a new user writes: an app service (the dev container) and a db service with a
    named volume."""
    key, _, value = LABEL.partition("=")
    compose = (
        f"services:\n  dev:\n    image: {image}\n    user: '0'\n    command: {QUICK_STOP}\n"
        f"    labels: {{{key}: '{value}'}}\n    depends_on: [db]\n"
        f"  db:\n    image: {image}\n    command: {QUICK_STOP}\n"
        f"    labels: {{{key}: '{value}'}}\n    volumes: ['dbdata:/data']\n"
        "volumes:\n  dbdata: {}\n"
    )
    config = {
        "dockerComposeFile": "compose.yaml",
        "service": "dev",
        "workspaceFolder": "/",
        "remoteUser": "0",
        **extra,
    }
    return write_project(folder, config, {"compose.yaml": compose})


async def wait_for(check: Any, seconds: float) -> Any:
    """``check()`` once it is truthy, or its last value after ``seconds``."""
    for _ in range(int(seconds * 2)):
        if found := check():
            return found
        await asyncio.sleep(0.5)
    return check()


# --------------------------------------------------------------------------- holes found, closed


# Was a hole: the shim prints its decision joined by spaces and the wrapper (workdir.py) splits `exec
# docker $decision` into words: a build token holding a space (build.args value, build.options value)
# becomes new buildx options the shim never judged (--secret reads a host file; --tag moves a name).
@pytest.mark.parametrize("how", ["build.args --secret", "build.options --tag"])
async def test_a_build_token_with_spaces_cannot_add_build_options(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    how: str,
) -> None:
    secret = f"build-token-split-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    victim = f"mcpd-rt7-victim-{RUN_ID}:split"
    build: dict[str, Any] = {"dockerfile": "Dockerfile"}
    dockerfile = DOCKERFILE.format(image=test_image)
    if how == "build.args --secret":
        build["args"] = {"X": f"1 --secret id=k,src={path}"}
        # The run's id in the step: a cached step would hold an earlier run's file.
        dockerfile += f"RUN --mount=type=secret,id=k echo {RUN_ID} && cat /run/secrets/k > /leak || true\n"
    else:
        build["options"] = [f"--label=rt7=1 --tag={victim}"]
    folder = write_project(tmp_path / "split", {"build": build}, {"Dockerfile": dockerfile})
    cleanup.append(folder)
    with own_image(docker_client, victim, f"FROM {test_image}\nLABEL rt7victim={RUN_ID}\n") as before:
        result = await up(client, folder)
        seen = (
            text_of(result)
            + everything_about(docker_client, folder)
            + built_file(docker_client, folder, "/leak")
        )
        moved = docker_client.images.get(victim).id != before
        if moved:  # the build's image, now under the victim's name: removed with the folder's
            docker_client.images.remove(victim, force=True)
    assert secret not in seen, "a host credential file was read into the image"
    assert not moved, "a dev container build moved another image's name"


# Was a hole: tools/devcontainers.py _down removes every image labelled
# io.mcp-docker-server.devcontainer=<folder>, and any build (LABEL in a Dockerfile, build-image, a pulled
# image) can set that label: remove deletes images not made for the folder.
async def test_remove_keeps_an_image_another_build_labelled_with_the_folder(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    folder = write_project(tmp_path / "rmlabel", image_config(test_image))
    cleanup.append(folder)
    victim = f"mcpd-rt7-victim-{RUN_ID}:prod"
    dockerfile = f"FROM {test_image}\nLABEL {OWNER_LABEL}={os.path.realpath(folder)}\n"
    with own_image(docker_client, victim, dockerfile):
        ok(await up(client, folder))
        removed = ok(await client.call_tool("dev-container", {"folder": folder, "action": "remove"}))
        assert victim in tags_of(docker_client), f"remove deleted an image it did not build: {removed}"


# Was a hole: the shim judges `compose config` output only; unlike compose-stack (check_inputs,
# compose/inputs.py) it never checks the files Compose reads to load the project: the folder's .env (a
# link) and include env_file interpolate a credential file into the service.
@pytest.mark.parametrize("how", [".env link", "include env_file"])
async def test_compose_interpolation_files_in_a_credential_folder_are_refused(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, how: str
) -> None:
    secret = f"dotenv-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    if how == ".env link":
        service = "    environment: {LEAK: '${MCPD_RED_TEAM_KEY}'}\n"
        folder = compose_config(tmp_path / "cdotenv", test_image, service)
        (Path(folder) / ".devcontainer" / ".env").symlink_to(path)
    else:
        service = f"include:\n  - path: extra.yaml\n    env_file: {path}\n"
        folder = compose_config(tmp_path / "cdotenv", test_image, service)
        key, _, value = LABEL.partition("=")
        (Path(folder) / ".devcontainer" / "extra.yaml").write_text(
            f"services:\n  side:\n    image: {test_image}\n    command: {QUICK_STOP}\n"
            f"    labels: {{{key}: '{value}', LEAK: '${{MCPD_RED_TEAM_KEY}}'}}\n"
        )
    try:
        result = await up(client, folder)
        assert secret not in text_of(result) + project_view(docker_client, folder), (
            "a credential file was read"
        )
        assert result.is_error
    finally:
        compose_leftovers(docker_client, "cdotenv", remove=True)


# Was a hole: on the deadline processes/runner.py _stop terminates only the CLI, not its process group:
# the shim's wrapper and the `docker compose build` it started run on, and their image is made after the
# undo ran (remove then finds no container and never deletes it).
async def test_a_deadline_during_a_compose_build_leaves_nothing(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    marker = f"{RUN_ID}-dl"
    folder = compose_build(tmp_path / "cdeadline", test_image, marker)
    dockerfile = Path(folder) / ".devcontainer" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"RUN sleep 8 && echo {marker}\n")  # never cached
    try:
        result = await client.call_tool("dev-container", {"folder": folder, "action": "up", "timeout": 5})
        assert "did not finish within 5 s" in text_of(result)
        left = await wait_for(lambda: labelled_images(docker_client, marker), 15)
        assert (left, compose_leftovers(docker_client, "cdeadline")) == ([], [])
    finally:
        await asyncio.sleep(1)
        compose_leftovers(docker_client, "cdeadline", remove=True)
        for image in labelled_images(docker_client, marker):
            docker_client.images.remove(image.id, force=True)


# Was a hole: after a failed up (a lifecycle command failed) service.py _undo removes what the shim
# recorded, and create_and_judge records containers and networks, not the named volumes Compose created;
# the error still says 'their volumes ... were removed'.
async def test_a_failed_compose_up_removes_the_volume_it_made(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = db_project(tmp_path / "cfailvol", test_image, postCreateCommand="exit 3")
    try:
        text = text_of(await up(client, folder))
        assert "postCreateCommand" in text
        assert "volumes" in text
        assert compose_volumes(docker_client, folder) == [], "the call's volume was left"
    finally:
        compose_leftovers(docker_client, "cfailvol", remove=True)
        remove_compose_volumes(docker_client, folder)


# Was a hole: runargs.py _publish_on keeps any value with two colons as 'naming an address': `-p :9993:80`
# names an empty one, and Docker then listens on every interface (README: ports without an address bind to
# MCP_DOCKER_PUBLISH_ADDRESS); low: 0.0.0.0 may be written out.
@pytest.mark.parametrize("run_args", [["-p", ":9993:80"], ["--publish=:9992:80"]], ids=["-p", "--publish="])
async def test_a_port_with_an_empty_address_binds_only_to_the_publish_address(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    run_args: list[str],
) -> None:
    folder = write_project(tmp_path / "emptyaddr", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    ok(await up(client, folder))
    assert published_on(docker_client, folder) <= {"127.0.0.1"}


# --------------------------------------------------------------------------- usability faults, closed


# Was a fault (usability): same root cause as the split build tokens: the shim's --label value and the
# CLI's -f/context paths are split at the space; the error ends in buildx's usage text.
async def test_a_dockerfile_dev_container_in_a_folder_with_a_space_comes_up(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = write_project(
        tmp_path / "my app",
        {"build": {"dockerfile": "Dockerfile"}},
        {"Dockerfile": DOCKERFILE.format(image=test_image)},
    )
    try:
        ok(await up(client, folder))
    finally:
        for leftover in containers_of(docker_client, folder):
            leftover.remove(force=True)
        for tag in [t for t in tags_of(docker_client) if t.startswith("vsc-myapp-")]:
            docker_client.images.remove(tag, force=True)


# Was a fault (usability): stop finds containers by devcontainer.local_folder, which the CLI sets on the
# dev service only: the db service keeps running (the CLI's own default for Compose, shutdownAction
# stopCompose, stops the project).
async def test_stop_of_a_compose_dev_container_stops_its_services(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    folder = db_project(tmp_path / "cstop7", test_image)
    try:
        ok(await up(client, folder))
        ok(await client.call_tool("dev-container", {"folder": folder, "action": "stop"}))
        running = docker_client.containers.list(filters=project_of(folder))
        assert [c.name for c in running] == []
    finally:
        compose_leftovers(docker_client, "cstop7", remove=True)
        remove_compose_volumes(docker_client, folder)


# --------------------------------------------------------------------------- tried, held


async def test_a_deadline_during_a_dockerfile_build_leaves_nothing(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # The CLI's own `docker buildx build` dies with the CLI (its output pipe closes): nothing
    # is built after the undo.
    folder = write_project(
        tmp_path / "deadline7",
        {"build": {"dockerfile": "Dockerfile"}, "containerUser": "0"},
        {"Dockerfile": DOCKERFILE.format(image=test_image) + f"RUN sleep 8 && echo {RUN_ID}\n"},
    )
    cleanup.append(folder)
    result = await client.call_tool("dev-container", {"folder": folder, "action": "up", "timeout": 5})
    assert "did not finish within 5 s" in text_of(result)
    assert await wait_for(lambda: built_images(docker_client, folder), 10) == []
    assert containers_of(docker_client, folder) == []


async def test_the_judged_compose_copy_reads_the_projects_relative_files(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # Compose runs a private copy with --project-directory in the call's folder: the env_file,
    # the secret file and the build context (relative to the project) are still the project's,
    # and an escaped `$$` stays literal (the copy is not interpolated a second time).
    service = (
        "    env_file: [app.env]\n    environment: {LIT: '$${HOME}'}\n    secrets: [s]\n"
        "    build: {context: .., dockerfile: .devcontainer/Dockerfile}\n"
        "secrets:\n  s:\n    file: ./s.txt\n"
    )
    folder = compose_config(tmp_path / "cfid7", test_image, service)
    files = {
        "app.env": "FROMENV=yes\n",
        "s.txt": "secret-ok\n",
        "Dockerfile": DOCKERFILE.format(image=test_image),
    }
    for name, text in files.items():
        (Path(folder) / ".devcontainer" / name).write_text(text)
    compose = Path(folder) / ".devcontainer" / "compose.yaml"
    compose.write_text(compose.read_text().replace(f"    image: {test_image}\n", "", 1))
    try:
        ok(await up(client, folder))
        command = ["sh", "-c", "echo $FROMENV $LIT; cat /run/secrets/s"]
        seen = ok(
            await client.call_tool("dev-container", {"folder": folder, "action": "exec", "command": command})
        )
        assert seen["stdout"] == "yes ${HOME}\nsecret-ok\n"
        removed = ok(await client.call_tool("dev-container", {"folder": folder, "action": "remove"}))
        assert removed["removed_images"]
        assert "cfid7_devcontainer-dev:latest" not in tags_of(docker_client)
    finally:
        compose_leftovers(docker_client, "cfid7", remove=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove("cfid7_devcontainer-dev:latest", force=True)


async def test_a_symlinked_or_slashed_folder_is_the_same_dev_container(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    folder = write_project(tmp_path / "real7", image_config(test_image))
    link = tmp_path / "link7"
    link.symlink_to(folder)
    cleanup.append(os.path.realpath(folder))
    made = ok(await up(client, str(link)))
    again = ok(await up(client, folder + "/."))
    assert made["container_id"] == again["container_id"]
    ok(
        await client.call_tool(
            "dev-container", {"folder": folder + "/", "action": "exec", "command": ["true"]}
        )
    )
    ok(await client.call_tool("dev-container", {"folder": f"{link}/", "action": "remove"}))
    assert containers_of(docker_client, os.path.realpath(folder)) == []


@pytest.mark.parametrize("spelling", ["--env-file={path}", "--label-file={path}", "--publish-all=true"])
async def test_host_side_run_options_with_an_attached_value_are_refused(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    spelling: str,
) -> None:
    secret = f"attached-canary-{RUN_ID}"
    path = canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n")
    run_args = [spelling.format(path=path), "--expose", "7998"]
    folder = write_project(tmp_path / "attached", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    result = await up(client, folder)
    assert "devcontainer-run-option" in text_of(result)
    assert secret not in everything_about(docker_client, folder)
    assert containers_of(docker_client, folder) == []


async def test_a_legacy_colon_seccomp_profile_path_is_judged(
    unconfined_ok: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
) -> None:
    # The docker CLI reads `seccomp:<file>` (no '=') as a profile file too.
    secret = f"colon-seccomp-canary-{RUN_ID}"
    path = canary_file(
        tmp_path, ".docker/config.json", json.dumps({"auths": {"r.example": {"auth": secret}}})
    )
    config = image_config(test_image, runArgs=["--security-opt", f"seccomp:{path}"])
    folder = write_project(tmp_path / "colon", config)
    cleanup.append(folder)
    result = await up(unconfined_ok, folder)
    assert secret not in text_of(result) + everything_about(docker_client, folder)
    assert result.is_error


async def test_a_dotenv_project_name_does_not_join_another_project(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    project = f"rt7victim{RUN_ID}"
    key, _, value = LABEL.partition("=")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "compose.yaml").write_text(
        f"services:\n  dev:\n    image: {test_image}\n    command: {QUICK_STOP}\n"
        f"    labels:\n      {key}: '{value}'\n"
    )
    victim = {"compose_file": str(tmp_path / "victim"), "project_name": project}
    ok(await client.call_tool("compose-stack", {**victim, "action": "up"}))
    by_project: dict[str, Any] = {"label": f"com.docker.compose.project={project}"}
    [theirs] = docker_client.containers.list(filters=by_project)
    folder = compose_config(tmp_path / "cjoin7", test_image, "", postAttachCommand="touch /attacked")
    # The CLI names the project from the .env of the workspace folder; Compose reads the one
    # beside the compose file.
    for where in (Path(folder), Path(folder) / ".devcontainer"):
        (where / ".env").write_text(f"COMPOSE_PROJECT_NAME={project}\n")
    try:
        result = await up(client, folder)
        assert "devcontainer-owner" in text_of(result)
        assert "attacked" not in str(theirs.exec_run(["ls", "/"]).output)
        assert [c.id for c in docker_client.containers.list(all=True, filters=by_project)] == [theirs.id]
        assert str(theirs.id)[:12] not in text_of(result)
    finally:
        await client.call_tool("compose-stack", {**victim, "action": "down"})
        for container in docker_client.containers.list(all=True, filters=by_project):
            container.remove(force=True)
        compose_leftovers(docker_client, "cjoin7", remove=True)


async def test_run_args_cannot_label_a_dev_container_as_another_folders(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    # Folder B's runArgs give its container folder A's CLI labels: A's exec and up would then
    # run in B's container. The CLI itself never finds the container it made (it looks for B's
    # labels): B's up waits until the deadline, and the undo removes the container.
    victim = write_project(tmp_path / "victimA", image_config(test_image))
    config_file = f"{victim}/.devcontainer/devcontainer.json"
    run_args = [
        "--label",
        f"devcontainer.local_folder={victim}",
        "--label",
        f"devcontainer.config_file={config_file}",
    ]
    forger = write_project(tmp_path / "forgerB", image_config(test_image, runArgs=run_args))
    cleanup += [victim, forger]
    made = await client.call_tool("dev-container", {"folder": forger, "action": "up", "timeout": 15})
    assert made.is_error
    assert (containers_of(docker_client, victim), containers_of(docker_client, forger)) == ([], [])
    command = {"folder": victim, "action": "exec", "command": ["hostname"]}
    assert "No such dev container" in text_of(await client.call_tool("dev-container", command))
