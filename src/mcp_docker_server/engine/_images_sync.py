"""Blocking image operations: list, inspect, history, tag, remove, prune, pull, push, build.

Pull, push and build read the engine's progress stream, update a :class:`Progress`, and can be
stopped from the event loop through a :class:`StreamHandle`, which shuts the connection down:
the engine then abandons the operation itself.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.credentials
import docker.errors
import docker.utils
import requests

from mcp_docker_server.config.settings import RegistrySettings
from mcp_docker_server.engine.build_context import (
    ContextPlan,
    plan_context,
    secret_files_refused,
    write_context,
)
from mcp_docker_server.errors import EngineAPIError, InvalidArgument, NotFound
from mcp_docker_server.results import shaping
from mcp_docker_server.results.images import BuildResult, HistoryRow, ImageDetail, ImageResult, ImageRow
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.dockerfile import read_dockerfile
from mcp_docker_server.specs.images import BuildSpec

Raw = dict[str, Any]
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_MiB = 1024 * 1024
_LAYER_DONE = ("Pull complete", "Pushed", "Layer already exists", "Already exists")


class StreamHandle:
    """Lets the event loop stop an engine stream that a worker thread is reading."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self.cancelled = False

    def attach(self, response: requests.Response) -> None:
        """Remember the stream (closing it at once if cancellation came first)."""
        with self._lock:
            self._response = response
            if self.cancelled:
                _shut(response)

    def cancel(self) -> None:
        """Shut the stream down; the blocked reader wakes up with an error."""
        with self._lock:
            self.cancelled = True
            if self._response is not None:
                _shut(self._response)


def _shut(response: requests.Response) -> None:
    # close() alone does not wake a thread blocked in recv(); shutdown() does.
    raw = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None) or getattr(getattr(response.raw, "_fp", None), "fp", None)
    channel = getattr(sock, "channel", None)
    with contextlib.suppress(Exception):
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
        elif channel is not None:
            channel.close()
    with contextlib.suppress(Exception):
        response.close()


# --------------------------------------------------------------------------- auth


def resolve_auth(
    registry: str, explicit: Mapping[str, str] | None, settings: RegistrySettings
) -> dict[str, str] | None:
    """Credentials for ``registry`` the way the docker CLI finds them: the call's own, then
    REGISTRY_USERNAME / REGISTRY_PASSWORD if they belong to this registry (REGISTRY_SERVER,
    Docker Hub by default), then REGISTRY_AUTH_CONFIG or ~/.docker/config.json (auths,
    credHelpers, credsStore: per registry). Returned only to be sent to the engine for this
    registry; never shown."""
    if explicit:
        if "identitytoken" in explicit:
            return {"identitytoken": explicit["identitytoken"], "serveraddress": registry}
        if not explicit.get("username") or not explicit.get("password"):
            raise InvalidArgument("auth needs username and password (or identitytoken).")
        return {"username": explicit["username"], "password": explicit["password"], "serveraddress": registry}
    if bound := settings.credentials_for(registry):
        return {"username": bound[0], "password": bound[1], "serveraddress": registry}
    config_path = str(settings.auth_config) if settings.auth_config else None
    if config_path and not os.access(config_path, os.R_OK):
        raise InvalidArgument(
            f"REGISTRY_AUTH_CONFIG points at {config_path}, which cannot be read.", hint="fix the path."
        )
    try:
        config = docker.auth.load_config(config_path)
        found = docker.auth.resolve_authconfig(config, registry)
    except (docker.errors.DockerException, docker.credentials.StoreError) as exc:
        # The helper's own words can echo what it was given; keep only the kind of failure.
        raise InvalidArgument(
            f"Reading registry credentials for {registry} failed ({type(exc).__name__}).",
            hint="check the credential helper (docker-credential-*) or the config file.",
        ) from None
    return dict(found) if found else None


def registry_of(reference: str) -> str:
    """The registry host a reference lives on (docker.io for Hub images)."""
    repository, _ = docker.utils.parse_repository_tag(reference)
    return str(docker.auth.resolve_repository_name(repository)[0])


# --------------------------------------------------------------------------- reads


def list_images(client: docker.DockerClient, pattern: str, limit: int) -> ImageResult:
    """Local images (one request); ``pattern`` matches a tag by glob or substring, ``*`` all."""
    raw: list[Raw] = client.api.images()
    rows = []
    for item in raw:
        tags = [t for t in item.get("RepoTags") or [] if t != "<none>:<none>"]
        if pattern not in ("", "*") and not any(
            fnmatch.fnmatchcase(t, pattern) or pattern in t for t in tags
        ):
            continue
        rows.append(
            ImageRow(
                id=shaping.short_id(str(item.get("Id", ""))),
                tags=tags,
                size_bytes=int(item.get("Size") or 0),
                created=_when(item.get("Created")),
            )
        )
    rows.sort(key=lambda r: r.created, reverse=True)
    return ImageResult(action="list", images=rows[:limit], truncated=len(rows) > limit)


def inspect_image(client: docker.DockerClient, ref: str) -> ImageResult:
    """Compact inspect; environment values are hidden."""
    raw: Raw = client.api.inspect_image(ref)  # type: ignore[no-untyped-call]
    config: Raw = raw.get("Config") or {}
    health = (config.get("Healthcheck") or {}).get("Test")
    return ImageResult(
        action="inspect",
        image=ImageDetail(
            id=shaping.short_id(str(raw.get("Id", ""))),
            tags=list(raw.get("RepoTags") or []),
            digests=list(raw.get("RepoDigests") or []),
            size_bytes=int(raw.get("Size") or 0),
            created=str(raw.get("Created") or "")[:19],
            os=str(raw.get("Os") or ""),
            architecture=str(raw.get("Architecture") or ""),
            user=config.get("User") or None,
            entrypoint=config.get("Entrypoint") or None,
            cmd=config.get("Cmd") or None,
            working_dir=config.get("WorkingDir") or None,
            env=shaping.mask_env(config.get("Env") or [], show_values=False),
            exposed_ports=sorted(config.get("ExposedPorts") or {}),
            labels=shaping.clean_labels(config.get("Labels"), limit=50),
            healthcheck=list(health) if health else None,
            layers=len((raw.get("RootFS") or {}).get("Layers") or []),
        ),
    )


def image_history(client: docker.DockerClient, ref: str, limit: int) -> ImageResult:
    """Layers newest first: size and the instruction that made each."""
    raw: list[Raw] = client.api.history(ref)  # type: ignore[no-untyped-call]
    rows = [
        HistoryRow(
            id=None if str(item.get("Id")) == "<missing>" else shaping.short_id(str(item.get("Id", ""))),
            created=_when(item.get("Created")),
            size_bytes=int(item.get("Size") or 0),
            created_by=shaping.truncate(
                shaping.clean_text(str(item.get("CreatedBy") or ""))
                .replace("/bin/sh -c #(nop) ", "")
                .strip(),
                160,
            )[0],
        )
        for item in raw
    ]
    return ImageResult(action="history", history=rows[:limit], truncated=len(rows) > limit)


def _when(created: object) -> str:
    if isinstance(created, int | float):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return str(created or "")[:19]


# --------------------------------------------------------------------------- writes


def tag_image(client: docker.DockerClient, ref: str, new_ref: str) -> ImageResult:
    """Give an image another name."""
    repository, tag = docker.utils.parse_repository_tag(new_ref)
    if tag and tag.startswith("sha256:"):
        raise InvalidArgument("A new tag cannot be a digest.", hint="use repository:tag.")
    client.api.inspect_image(ref)  # type: ignore[no-untyped-call]
    client.api.tag(ref, repository, tag or "latest")
    return inspect_image(client, new_ref if tag else f"{new_ref}:latest").model_copy(update={"action": "tag"})


def remove_image(client: docker.DockerClient, ref: str, *, force: bool) -> ImageResult:
    """Untag and delete; an image a container uses needs force (and says which container)."""
    try:
        raw: list[Raw] = client.api.remove_image(ref, force=force)
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise EngineAPIError(
                f"Image {ref} is in use: {exc.explanation}.",
                status=409,
                hint="remove the containers that use it, or pass force=true to untag it anyway.",
            ) from exc
        raise
    removed = [
        shaping.short_id(str(v)) if k == "Deleted" else str(v) for item in raw for k, v in item.items()
    ]
    return ImageResult(action="remove", removed=removed)


def prune_images(client: docker.DockerClient) -> ImageResult:
    """Delete dangling images (untagged and unused)."""
    raw: Raw = client.api.prune_images(filters={"dangling": True})  # type: ignore[no-untyped-call]
    deleted = [
        shaping.short_id(str(v))
        for item in raw.get("ImagesDeleted") or []
        for k, v in item.items()
        if k == "Deleted"
    ]
    return ImageResult(action="prune", removed=deleted, reclaimed_bytes=int(raw.get("SpaceReclaimed") or 0))


@dataclass
class _LayerTotals:
    """Per-layer byte counts from a pull or push stream."""

    current: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    def update(self, message: Raw) -> None:
        layer = str(message.get("id") or "")
        detail = message.get("progressDetail") or {}
        if layer and detail.get("total"):
            self.total[layer] = int(detail["total"])
            self.current[layer] = int(detail.get("current") or 0)
        elif layer and str(message.get("status", "")).startswith(_LAYER_DONE):
            self.current[layer] = self.total.get(layer, 0)

    def report(self, progress: Progress, verb: str) -> None:
        done, total = sum(self.current.values()), sum(self.total.values())
        progress.update(
            done, total or None, f"{verb} {len(self.total)} layers: {done // _MiB}/{total // _MiB} MiB"
        )


def transfer_image(
    client: docker.DockerClient,
    verb: str,
    ref: str,
    auth: Mapping[str, str] | None,
    progress: Progress,
    handle: StreamHandle,
) -> ImageResult:
    """Pull or push with per-layer byte progress; a registry's refusal is reported as such."""
    api = _protected(client)
    repository, given_tag = docker.utils.parse_repository_tag(ref)
    tag = given_tag or "latest"
    if verb == "pull":
        url, params = api._url("/images/create"), {"fromImage": repository, "tag": tag}
    else:
        url, params = api._url("/images/{0}/push", repository), {"tag": tag}
    # A push always sends the header (the engine wants one, even empty); a pull only with creds.
    headers = (
        {"X-Registry-Auth": docker.auth.encode_header(dict(auth or {}))} if auth or verb == "push" else {}
    )
    response = api._post(url, params=params, headers=headers, stream=True, timeout=None)
    handle.attach(response)
    _check(api, response, verb, ref)
    layers = _LayerTotals()
    digest = None
    for message in _messages(api, response, handle):
        if message.get("error"):
            raise _registry_error(verb, ref, str(message["error"]))
        layers.update(message)
        layers.report(progress, f"{verb}ing")
        status = str(message.get("status") or "")
        aux = message.get("aux") or {}
        if status.startswith("Digest: "):
            digest = status.removeprefix("Digest: ").strip()
        elif isinstance(aux, dict) and aux.get("Digest"):
            digest = str(aux["Digest"])
    if verb == "push":
        return ImageResult(action="push", digest=digest, note=f"pushed {ref}")
    name = ref if given_tag else f"{ref}:latest"
    return inspect_image(client, name).model_copy(update={"action": "pull", "digest": digest})


def _check(api: Any, response: requests.Response, verb: str, ref: str) -> None:
    """An error status before the stream starts is the registry's answer, not the engine's."""
    try:
        api._raise_for_status(response)
    except docker.errors.NotFound as exc:
        raise NotFound(
            "image", ref, hint="tag or build it first; image-operations action=list shows local images."
        ) from exc
    except docker.errors.APIError as exc:
        raise _registry_error(verb, ref, str(exc.explanation or exc)) from exc


def _registry_error(verb: str, ref: str, said: str) -> EngineAPIError:
    said = shaping.truncate(shaping.clean_text(said), 300)[0]
    lowered = said.lower()
    if (
        "no basic auth credentials" in lowered
        or "unauthorized" in lowered
        or "authentication required" in lowered
    ):
        hint = (
            "give credentials: the auth argument, REGISTRY_USERNAME/REGISTRY_PASSWORD with "
            "REGISTRY_SERVER naming this registry (they go to docker.io only otherwise), "
            "or a docker config.json."
        )
    elif "not found" in lowered or "manifest unknown" in lowered or "does not exist" in lowered:
        hint = "check the repository name and tag."
    elif (
        "no such host" in lowered
        or "connection refused" in lowered
        or "timeout" in lowered
        or "dial tcp" in lowered
    ):
        hint = "the registry cannot be reached from the engine; check its address and the network."
    else:
        hint = "check the reference, the registry and the credentials."
    return EngineAPIError(f"{verb.capitalize()} of {ref} failed: {said}.", hint=hint)


def _protected(client: docker.DockerClient) -> Any:
    """docker-py's request helpers (``_post``, ``_url``, ``_stream_helper``...). The public
    pull, push and build hide the HTTP response, which cancellation must be able to shut."""
    return client.api


def _messages(api: Any, response: requests.Response, handle: StreamHandle) -> Iterator[Raw]:
    try:
        for message in api._stream_helper(response, decode=True):
            if isinstance(message, dict):
                yield message
    except (requests.exceptions.RequestException, OSError, ValueError, AttributeError) as exc:
        if handle.cancelled:
            raise EngineAPIError("Stopped: the call was cancelled.") from exc
        raise
    finally:
        response.close()


# --------------------------------------------------------------------------- build


def prepare_build(
    path: str,
    dockerfile: str | None,
    target: str | None,
    max_context_bytes: int,
    *,
    buildkit: bool = False,
) -> ContextPlan:
    """Check everything that can fail before any work: context, Dockerfile, target, BuildKit-only
    features (for the classic builder), context size. Returns what the build will send
    (:func:`plan_context`): the context as the Docker CLI makes it, with .dockerignore applied
    and links kept as links.

    Raises:
        InvalidArgument: naming what is wrong and how to fix it.
    """
    context = Path(path).expanduser()
    if not context.is_absolute():
        context = Path.cwd() / context
    if not context.is_dir():
        raise InvalidArgument(
            f"Build context {context} is not a directory.", hint="give the folder that holds the Dockerfile."
        )
    name = dockerfile or "Dockerfile"
    file = Path(name) if Path(name).is_absolute() else context / name
    if not file.is_file():
        raise InvalidArgument(f"Dockerfile not found: {file}.", hint="check dockerfile (relative to path).")
    facts = read_dockerfile(file.read_text(errors="replace"))
    if facts.buildkit_feature and not buildkit:
        raise InvalidArgument(
            f"{file.name} line {facts.buildkit_line} uses {facts.buildkit_feature}, which needs BuildKit; "
            "the docker CLI's buildx plugin (0.17 or later) is not installed here, so this server "
            "builds with the classic builder.",
            hint="install buildx (Debian: docker-buildx; Docker: docker-buildx-plugin) or rewrite that line.",
        )
    if target and target not in facts.stages:
        named = [s for s in facts.stages if not s.isdigit()]
        raise InvalidArgument(
            f"Unknown target {target!r}: {file.name} has stages {', '.join(named) or '(none named)'}.",
            hint="use one of those, or omit target to build the last stage.",
        )
    plan = plan_context(context, file, buildkit=buildkit)
    if plan.total_bytes > max_context_bytes:
        heavy = ", ".join(f"{n} ({s // _MiB} MiB)" for n, s in plan.by_folder)
        raise InvalidArgument(
            f"Build context {context} is {plan.total_bytes // _MiB} MiB "
            f"(limit {max_context_bytes // _MiB} MiB); biggest entries: {heavy}.",
            hint="add what the image does not need to .dockerignore, or point path at a smaller folder.",
        )
    return plan


@dataclass
class BuildLog:
    """What the build stream said: steps, layers made, the output of the current step."""

    step: int = 0
    total: int = 0
    command: str = ""
    cached: int = 0
    layers: list[str] = field(default_factory=list)
    step_output: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    image_id: str | None = None

    def feed(self, line: str, progress: Progress) -> None:
        line = shaping.clean_text(line).rstrip()
        if not line:
            return
        self.tail = [*self.tail[-19:], line]
        if match := _STEP.match(line):
            self.step, self.total, self.command = int(match[1]), int(match[2]), match[3]
            self.step_output = []
            progress.update(self.step, self.total, f"Step {self.step}/{self.total}: {self.command}")
        elif match := _LAYER.match(line):
            self.layers.append(match[1])
        elif line.strip() == "---> Using cache":
            self.cached += 1
        elif not line.startswith((" ---> ", "Removing intermediate container")):
            self.step_output = [*self.step_output[-14:], line]


def build_image(
    client: docker.DockerClient,
    request: BuildSpec,
    progress: Progress,
    handle: StreamHandle,
    log: BuildLog,
    allow_secret_files: bool = False,
) -> BuildResult:
    """Build with the classic builder, step progress, and a precise error for a failing step.

    Raises:
        InvalidArgument: the context or Dockerfile is wrong (before any work).
        PolicyDenied: the context holds files that look like secrets and the call did not
            say they belong in the image.
        EngineAPIError: the build failed (naming the step and its output).
    """
    api = _protected(client)
    started = time.monotonic()
    plan = prepare_build(request.path, request.dockerfile, request.target, request.max_context_bytes)
    if plan.secrets and not allow_secret_files:
        raise secret_files_refused(plan)
    context = write_context(plan)
    params: Raw = {
        "t": request.tag,
        "dockerfile": plan.dockerfile_in_tar,
        "rm": True,
        "forcerm": True,
        "nocache": request.no_cache,
        "pull": request.pull,
    }
    if request.build_args:
        params["buildargs"] = json.dumps(dict(request.build_args))
    if request.labels:
        params["labels"] = json.dumps(dict(request.labels))
    if request.target:
        params["target"] = request.target
    if request.platform:
        params["platform"] = request.platform
    headers: Raw = {"Content-Type": "application/tar"}
    api._set_auth_headers(headers)
    try:
        response = api._post(
            api._url("/build"), data=context, params=params, headers=headers, stream=True, timeout=None
        )
    finally:
        context.close()
    handle.attach(response)
    api._raise_for_status(response)
    for message in _messages(api, response, handle):
        if "stream" in message:
            for line in str(message["stream"]).splitlines():
                log.feed(line, progress)
        if (aux := message.get("aux")) and isinstance(aux, dict) and aux.get("ID"):
            log.image_id = str(aux["ID"])
        if message.get("error"):
            raise _build_failed(log, str(message["error"]))
    image: Raw = api.inspect_image(request.tag)
    return BuildResult(
        id=shaping.short_id(str(image.get("Id", ""))),
        tags=list(image.get("RepoTags") or []),
        size_bytes=int(image.get("Size") or 0),
        steps=log.total,
        cached_steps=log.cached,
        seconds=round(time.monotonic() - started, 2),
        log_tail=shaping.newest("\n".join(log.tail[-10:]), 2000),
        builder="classic",
    )


def _build_failed(log: BuildLog, error: str) -> EngineAPIError:
    output = "\n".join(line for line in log.step_output if line.strip() != error.strip())
    where = f"step {log.step}/{log.total} ({log.command})" if log.step else "before the first step"
    text = f"Build failed at {where}: {shaping.truncate(shaping.clean_text(error), 400)[0]}"
    if output:
        text += f"\nLast output of that step:\n{shaping.newest(output, 1500)}"
    return EngineAPIError(
        text, hint="fix that instruction (or its inputs) and build again; earlier steps are cached."
    )


def discard_build_layers(client: docker.DockerClient, layers: list[str]) -> list[str]:
    """Remove the untagged images a cancelled build committed (newest first), and any container
    it left. Returns what was removed."""
    removed = []
    for layer in reversed(layers):
        with contextlib.suppress(docker.errors.APIError):
            image: Raw = client.api.inspect_image(layer)  # type: ignore[no-untyped-call]
            if image.get("RepoTags"):
                continue
            client.api.remove_image(layer, force=False, noprune=False)
            removed.append(layer)
    for container in client.api.containers(all=True, filters={"status": "created"}):
        if any(str(container.get("Image", "")).startswith(layer) for layer in layers):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(container["Id"], force=True)
    return removed
