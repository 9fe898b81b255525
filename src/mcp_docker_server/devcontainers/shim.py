"""The docker the Dev Containers CLI runs: ``python -m mcp_docker_server.devcontainers.shim ARGS``.

The CLI is given a generated wrapper script as its ``--docker-path`` (:mod:`.workdir`). The
wrapper passes plain reads (ps, inspect, events, logs...) straight to the real docker CLI and
asks this module about everything else. This module decides, and prints the decision on
stdout for the wrapper:

- nothing: run the original docker command as it is (a pull of an allowed image, a build with
  only the options the CLI itself uses, ``docker exec`` without ``--privileged``);
- docker arguments (``start --attach <id>``), shell-quoted: run those instead. ``docker run``
  is done as ``docker create`` with the same options (plus the scope label and the policy's
  defaults), the created container is inspected and judged by the same judge as
  run-container, and only then does the wrapper start it, attached as ``run`` would have been.

A refusal removes what it created (the container, the named volumes its creation made),
writes the reason to ``refusal.json`` in the call's private folder (the server turns it into
the tool's error), prints it on stderr, and exits 1. Anything this module does not know is
refused: a new command the CLI starts using fails closed, with a message naming it.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from mcp_docker_server.devcontainers.describe import (
    description,
    mounted_volume_names,
    network_refs,
    volume_info,
)
from mcp_docker_server.devcontainers.gate import check_build_tag, judge_run_options, policy_from_json
from mcp_docker_server.devcontainers.names import FOLDER_LABEL, OWNER_LABEL
from mcp_docker_server.devcontainers.runargs import (
    bind_published_ports,
    compose_files,
    compose_split,
    injected_options,
    judged_compose_globals,
    parse_build,
    parse_exec,
    parse_run,
    start_tokens,
)
from mcp_docker_server.errors import DockerServerError, PolicyDenied
from mcp_docker_server.policy import admit_exec, check_host_path, check_image, lexical_resolver, scope_labels
from mcp_docker_server.policy.admission import judge_container, listed_binds
from mcp_docker_server.policy.builds import check_build_name, check_frontend, compose_builds
from mcp_docker_server.policy.compose import (
    env_files_of,
    judge_compose_config,
    judge_compose_inputs,
    pin_paths,
    publish_on,
)
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.processes import Completed, run_process
from mcp_docker_server.specs.containers import ExecSpec
from mcp_docker_server.specs.dockerfile import base_images, frontend_image

__all__ = ["ENV_DOCKER", "ENV_FOLDER", "ENV_PUBLISH", "ENV_RESOLVER", "ENV_STATE", "REFUSAL_FILE", "main"]

ENV_DOCKER = "MCP_DOCKER_DEVCONTAINER_DOCKER"  # the real docker CLI
ENV_STATE = "MCP_DOCKER_DEVCONTAINER_STATE"  # the call's private folder (policy.json, refusal.json)
ENV_RESOLVER = "MCP_DOCKER_DEVCONTAINER_RESOLVER"  # "local" (engine on this host) or "lexical"
ENV_PUBLISH = "MCP_DOCKER_DEVCONTAINER_PUBLISH"  # MCP_DOCKER_PUBLISH_ADDRESS of the server
ENV_FOLDER = "MCP_DOCKER_DEVCONTAINER_FOLDER"  # the workspace folder (real path) of the call
POLICY_FILE = "policy.json"
REFUSAL_FILE = "refusal.json"
BUILT_FILE = "built.json"  # images this call built that did not exist before
CREATED_FILE = "created.json"  # containers this call created, and the named volumes that made
JUDGED_FILE = "judged.json"  # containers judged in this call (an exec in them is not judged again)
_TIMEOUT = 600.0  # one docker command; the server's own deadline for the whole call is shorter

# Subcommands that only read, or stop and remove what the CLI made: passed through as they are.
_PASS = frozenset(
    {"ps", "inspect", "events", "logs", "version", "-v", "--version", "info", "top", "port", "wait",
     "rm", "stop", "kill", "images"}
)  # fmt: skip
_PASS_GROUPS = {
    "image": frozenset({"inspect", "ls", "list"}),
    "volume": frozenset({"inspect", "ls", "list"}),
    "network": frozenset({"inspect", "ls", "list"}),
    "buildx": frozenset({"version", "ls", "inspect", "du"}),
    "container": frozenset({"inspect", "ls", "list", "ps", "logs", "rm", "stop", "kill", "top", "wait"}),
}
_COMPOSE_PASS = frozenset(
    {"version", "config", "ps", "ls", "images", "top", "logs", "port", "events", "down", "stop", "rm", "kill"}
)
_COMPOSE_JUDGED = frozenset({"up", "create", "start", "restart", "build"})
_DOCKERFILE_LIMIT = 1024 * 1024  # bytes of a Dockerfile read for its FROM lines and frontend


_UNDO = {
    "container": ["rm", "--force", "--volumes"],
    "volume": ["volume", "rm"],
    "network": ["network", "rm"],
    "image": ["image", "rm"],
}


class Refused(Exception):
    """Not done, for a reason the wrapper prints (not a policy decision)."""


class Shim:
    """One docker command of the CLI, judged."""

    def __init__(
        self,
        docker: str,
        state: Path,
        policy: Policy,
        resolve: PathResolver,
        publish_address: str = "127.0.0.1",
        folder: str = "",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.docker = docker
        self.env = os.environ if env is None else env
        self.publish_address = publish_address
        self.folder = folder
        self.state = state
        self.policy = policy
        self.resolve = resolve

    async def decide(self, args: Sequence[str]) -> list[str]:
        """The docker arguments to run instead of ``args`` ([] for ``args`` themselves).

        Raises:
            PolicyDenied: the policy refuses what the command asks.
            Refused: a command this server does not run for dev containers.
        """
        command, rest = (args[0], list(args[1:])) if args else ("", [])
        if command == "container" and rest and rest[0] in ("run", "create", "start", "restart", "exec"):
            command, rest = rest[0], rest[1:]
        if command in _PASS:
            return []
        if command in _PASS_GROUPS and rest and rest[0] in _PASS_GROUPS[command]:
            return []
        if command in ("run", "create"):
            return await self.run(rest, create_only=command == "create")
        if command in ("start", "restart"):
            await self.judge_existing([a for a in rest if not a.startswith("-")])
            return []
        if command == "exec":
            await self.judge_exec(rest)
            return []
        if command == "build" or (command in ("buildx", "builder", "image") and rest[:1] == ["build"]):
            prefix, build_args = ([command], rest) if command == "build" else ([command, "build"], rest[1:])
            tags = await self.judge_build(build_args)
            await self.note_new_images(tags)
            # The folder's label on what it builds: `remove` finds the folder's images by it.
            return [*prefix, "--label", f"{OWNER_LABEL}={self.folder}", *build_args]
        if command == "pull" and rest:
            check_image(self.policy, rest[-1])
            return []
        if command == "compose":
            return await self.compose(rest)
        raise Refused(
            f"`docker {' '.join(args[:2])}` is not run for dev containers by this server "
            "(only what the Dev Containers CLI needs to create, judge and start them)"
        )

    # ------------------------------------------------------------------ containers

    async def run(self, args: Sequence[str], *, create_only: bool) -> list[str]:
        try:
            call = bind_published_ports(parse_run(args), self.publish_address)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        judge_run_options(self.policy, call)
        labels = scope_labels(self.policy, {})
        before = set(await self.volume_names())
        create = [
            "create",
            *injected_options(self.policy, call, labels),
            *call.create_options,
            *call.image_and_command,
        ]
        done = await self.docker_cli(create)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(done.returncode)
        container_id = done.stdout.strip().splitlines()[-1].strip()
        await self.note(CREATED_FILE, [f"container:{container_id}"])  # undone if the start fails
        raw = (await self.inspect("container", [container_id]))[0]
        try:
            await self.judge_inspected(raw)
        except PolicyDenied:
            await self.remove_container(container_id, before)
            raise
        await self.note(CREATED_FILE, [f"volume:{v}" for v in mounted_volume_names(raw) if v not in before])
        await self.note(JUDGED_FILE, [container_id])
        if create_only:
            return ["inspect", "--format", "{{.Id}}", container_id]
        return start_tokens(call, container_id)

    async def judge_existing(self, refs: Sequence[str]) -> None:
        for raw in await self.inspect("container", list(refs)):
            await self.judge_owned(raw)

    async def judge_inspected(self, raw: dict[str, Any]) -> None:
        """Judge a container as the engine describes it (``raw``: its inspect body), with every
        other container's binds for the nested-bind rule.

        Raises:
            PolicyDenied: as run-container would refuse it.
        """
        volumes = {str(v["Name"]): v for v in await self.inspect("volume", mounted_volume_names(raw))}
        refs = network_refs(raw)
        found = {str(n["Id"]): n for n in await self.inspect("network", sorted(set(refs.values())))}
        networks = {name: found[ref] for name, ref in refs.items() if ref in found}
        info = await self.docker_cli(["info", "--format", "{{.CgroupVersion}}"])
        others = await self.other_binds(str(raw.get("Id") or ""))
        desc = description(raw, volumes, networks, info.stdout.strip(), other_binds=others)
        judge_container(self.policy, desc, self.resolve)

    async def judge_exec(self, args: Sequence[str]) -> None:
        """The exec-container rules: no privileged exec, and no root exec when the operator
        forbids it (an exec without a user runs as the container's own user); and the
        container is this folder's, judged as run-container would judge it (the CLI runs its
        commands in a running container it finds by labels, which may be one no call made)."""
        try:
            call = parse_exec(args)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        raw = (await self.inspect("container", [call.container]))[0]
        await self.judge_owned(raw)
        default_user = str((raw.get("Config") or {}).get("User") or "")
        spec = ExecSpec(call.container, call.command, user=call.user, privileged=call.privileged)
        admit_exec(self.policy, spec, default_user)

    async def judge_owned(self, raw: dict[str, Any]) -> None:
        """A container the CLI acts on is the folder's (its dev container, or a service of the
        folder's Compose project) and passes the judge, once per call.

        Raises:
            PolicyDenied: naming the container and the folder it belongs to.
        """
        container_id = str(raw.get("Id") or "")
        path = self.state / JUDGED_FILE
        if path.exists() and container_id in json.loads(path.read_text()):
            return
        labels = (raw.get("Config") or {}).get("Labels") or {}
        if self.folder not in (labels.get(FOLDER_LABEL), labels.get(OWNER_LABEL)):
            name = str(raw.get("Name") or container_id[:12]).lstrip("/")
            owner = labels.get(OWNER_LABEL) or labels.get(FOLDER_LABEL) or "no dev container folder"
            raise PolicyDenied(
                "devcontainer-owner",
                f"container {name} is not a dev container of {self.folder} (it belongs to {owner}), "
                "and the Dev Containers CLI would run this folder's commands in it",
                hint="give the Compose project a name of its own (`name:` in the compose file), or "
                "remove that container, then call up again.",
            )
        await self.judge_inspected(raw)
        await self.note(JUDGED_FILE, [container_id])

    async def remove_container(self, container_id: str, volumes_before: set[str]) -> None:
        raw = await self.inspect("container", [container_id])
        made = [v for v in mounted_volume_names(raw[0]) if v not in volumes_before] if raw else []
        await self.docker_cli(["rm", "--force", "--volumes", container_id])
        if made:
            await self.docker_cli(["volume", "rm", *made])

    # ------------------------------------------------------------------ builds

    async def judge_build(self, args: Sequence[str]) -> list[str]:
        """Refuse build options the CLI does not use itself, host paths the rule refuses, names
        that are not the CLI's own for this folder, and what build-image refuses of a Dockerfile
        (a frontend or base images outside the image allowlist); the tags it names."""
        try:
            call = parse_build(args)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        for tag in call.tags:
            check_build_tag(tag, self.folder)
        for context in call.contexts:
            check_host_path(self.policy, context, self.resolve, purpose="build context", mounted=False)
        if call.dockerfile:
            check_host_path(self.policy, call.dockerfile, self.resolve, purpose="Dockerfile", mounted=False)
            text = await anyio.to_thread.run_sync(_read_text, call.dockerfile)
            self.judge_dockerfile(text, dict(call.build_args), call.tags)
        return list(call.tags)

    def judge_dockerfile(
        self, text: str, build_args: dict[str, str], names: Sequence[str], more_sources: Sequence[str] = ()
    ) -> None:
        """build-image's rules for a Dockerfile: the frontend it asks for, and the names the build
        gives against the images it takes files from (image allowlist)."""
        if frontend := frontend_image(text, build_args):
            check_frontend(self.policy, frontend)
        for given in names:
            check_build_name(self.policy, given, [*base_images(text), *more_sources])

    async def note_new_images(self, tags: Sequence[str]) -> None:
        """Remember the tags a build makes that do not exist yet: a refusal later in this call
        removes them (a refused dev container leaves nothing behind)."""
        new = [t for t in tags if await self.inspect_quietly("image", t) is None]
        await self.note(BUILT_FILE, [f"image:{t}" for t in new])

    async def note(self, name: str, items: Sequence[str]) -> None:
        """Add ``items`` to the call's record ``name`` (the docker commands of one call run one
        after another, never at once)."""
        if items:
            path = self.state / name
            previous = json.loads(path.read_text()) if path.exists() else []
            path.write_text(json.dumps([*previous, *items]))

    async def undo(self) -> None:
        """After a refusal (or a failed ``up``): remove what this call created (containers, the
        named volumes and networks their creation made, images it built), so a dev container
        that did not come up leaves nothing behind. Records are "kind:ref"."""
        made: list[str] = []
        for name in (CREATED_FILE, BUILT_FILE):
            path = self.state / name
            made += [str(item) for item in json.loads(path.read_text())] if path.exists() else []
        # Containers first: the volumes, networks and images may be theirs.
        for kind, command in _UNDO.items():
            for item in made:
                item_kind, _, ref = item.partition(":")
                if item_kind == kind:
                    await self.docker_cli([*command, ref])

    # ------------------------------------------------------------------ compose

    async def env_files(self, globals_: Sequence[str]) -> dict[str, list[str]]:
        """The env and label files each service reads. Compose inlines them into the render, so
        they come from a render that resolves neither variables nor env files, and are judged as
        compose-stack judges them."""
        raw = await self.docker_cli(
            ["compose", *globals_, "config", "--no-interpolate", "--no-env-resolution", "--format", "json"]
        )
        if raw.returncode != 0:  # fail closed: files that cannot be listed cannot be judged
            raise Refused(f"the project's env files could not be listed: {raw.stderr.strip()[-300:]}")
        return env_files_of(json.loads(raw.stdout))

    async def compose(self, args: Sequence[str]) -> list[str]:
        """Judge a Compose command that builds, creates or starts: the project is rendered and
        judged, and Compose then runs on a private copy of what was judged (host paths pinned,
        ports without an address on the publish address, every service and build labelled as
        this folder's), never on the project's files again, so a file changed after the judge
        changes nothing. Containers are created, judged as the engine describes them, then
        started."""
        globals_, sub, rest = compose_split(args)
        if sub in ("version", ""):
            return []  # reads no project
        await self.judge_compose_inputs(globals_)
        if sub in _COMPOSE_PASS:
            return []
        if sub not in _COMPOSE_JUDGED:
            raise Refused(f"`docker compose {sub}` is not run for dev containers by this server")
        rendered = await self.docker_cli(["compose", *globals_, "config", "--format", "json"])
        if rendered.returncode != 0:
            sys.stderr.write(rendered.stderr)
            raise SystemExit(rendered.returncode)
        config = json.loads(rendered.stdout)
        judge_compose_config(self.policy, config, self.resolve, env_files=await self.env_files(globals_))
        project = str(config.get("name") or "")
        await self.judge_project_owner(project)
        names = await self.judge_compose_builds(config)
        own = judged_compose_globals(globals_, self.judged_file(config), self.state)
        services = [a for a in rest if not a.startswith("-")]
        if sub in ("build", "up", "create"):
            await self.note_new_images(names)
        if sub == "build":
            return ["compose", *own, "build", *services]
        await self.create_and_judge(project, own, services if sub in ("up", "create") else None)
        if sub == "up":
            # What exists now is what was judged: nothing is built or recreated by the start.
            return ["compose", *own, "up", "--detach", "--no-recreate", "--no-build", *services]
        if sub == "create":
            return ["compose", *own, "ps", "--all", "--quiet"]
        return ["compose", *own, sub, *services]

    async def judge_compose_inputs(self, globals_: Sequence[str]) -> None:
        """The files Compose reads to load the project (the compose files, the project folder's
        ``.env``, ``include`` and ``extends`` files) are judged before any Compose command reads
        them, reads included (`config` output and errors quote what Compose read), as
        compose-stack judges them.

        Raises:
            PolicyDenied: naming the file.
            Refused: Compose would find its files by itself (no ``-f``), which is not judged.
        """
        files = compose_files(globals_)
        if not files:
            raise Refused("a Compose command without -f would find its files by itself, unjudged")
        # Imported here: the compose package costs ~80 ms, paid by every docker command otherwise.
        from mcp_docker_server.compose.inputs import compose_inputs
        from mcp_docker_server.state import local_read_resolver  # this machine reads them

        inputs = await anyio.to_thread.run_sync(compose_inputs, [Path(f) for f in files])
        listed = [(i.purpose, i.path, i.remote) for i in inputs]
        judge_compose_inputs(self.policy, listed, local_read_resolver)

    async def create_and_judge(
        self, project: str, own: Sequence[str], services: Sequence[str] | None
    ) -> None:
        """Create the project's containers (``services``; None: create nothing) from the judged
        copy, then judge every container of the project; a failure or a refusal removes what
        this command made."""
        before = set(await self.project_containers(project))
        volumes_before = set(await self.volume_names())
        networks_before = set(await self.project_networks(project))
        if services is not None:
            made = await self.docker_cli(["compose", *own, "create", *services])
            if made.returncode != 0:
                await self.sweep(project, before, volumes_before, networks_before)
                sys.stderr.write(made.stderr)
                raise SystemExit(made.returncode)
        ids = await self.project_containers(project)
        created = [f"container:{c}" for c in sorted(set(ids) - before)]
        networks = [f"network:{n}" for n in await self.project_networks(project) if n not in networks_before]
        volumes = [f"volume:{v}" for v in await self.project_volumes(project) if v not in volumes_before]
        await self.note(CREATED_FILE, [*created, *networks, *volumes])  # undone if a later step fails
        try:
            for raw in await self.inspect("container", ids):
                await self.judge_owned(raw)
        except PolicyDenied:
            await self.sweep(project, before, volumes_before, networks_before)
            raise

    async def judge_project_owner(self, project: str) -> None:
        """The Compose project is the folder's own: Compose would recreate, and the CLI would
        run the folder's commands in, containers another project (or another folder with the
        same name) made under that project name.

        Raises:
            PolicyDenied: naming the project and a container that is not the folder's.
        """
        for raw in await self.inspect("container", await self.project_containers(project)):
            labels = (raw.get("Config") or {}).get("Labels") or {}
            if labels.get(OWNER_LABEL) != self.folder:
                name = str(raw.get("Name") or "").lstrip("/")
                owner = labels.get(OWNER_LABEL) or "no dev container folder"
                raise PolicyDenied(
                    "devcontainer-owner",
                    f"Compose project {project} already holds container {name}, which is not this "
                    f"folder's (it belongs to {owner})",
                    hint="give the project a name of its own (`name:` in the compose file), or remove "
                    "that project first, then call up again.",
                )

    def judged_file(self, config: dict[str, Any]) -> Path:
        """Write the judged project for Compose to run: host paths pinned to what was judged,
        ports without an address on the publish address (as run-container), and each service
        and build labelled with the folder (``remove`` takes down only such projects and
        images)."""
        pinned = publish_on(pin_paths(config, self.resolve), self.publish_address)
        for service in (pinned.get("services") or {}).values():
            labels = service.get("labels")
            service["labels"] = {**(labels if isinstance(labels, dict) else {}), OWNER_LABEL: self.folder}
            build = service.get("build")
            if isinstance(build, dict):
                built = build.get("labels")
                build["labels"] = {**(built if isinstance(built, dict) else {}), OWNER_LABEL: self.folder}
        handle, name = tempfile.mkstemp(prefix="compose-", suffix=".json", dir=self.state)
        with os.fdopen(handle, "w") as stream:
            json.dump(pinned, stream)
        return Path(name)

    async def judge_compose_builds(self, config: dict[str, Any]) -> list[str]:
        """build-image's rules for the project's local builds: the frontend and the names each
        gives against the images it starts from (image allowlist); and a name another image
        holds is not moved unless that image is the folder's own (a rebuild). The names.

        Raises:
            PolicyDenied: naming the image and the service.
        """
        names: list[str] = []
        for build in compose_builds(config, str(config.get("name") or "")):
            text = build.dockerfile_text
            if build.dockerfile_path:
                text = await anyio.to_thread.run_sync(_read_text, build.dockerfile_path)
            self.judge_dockerfile(text, dict(build.args), build.names, build.context_images)
            for name in build.names:
                found = await self.inspect_quietly("image", name)
                labels = ((found or {}).get("Config") or {}).get("Labels") or {}
                if found and labels.get(OWNER_LABEL) != self.folder:
                    raise PolicyDenied(
                        "devcontainer-image-name",
                        f"service {build.service} would build {name}, a name an image that is not "
                        "this folder's already holds",
                        hint="give the built image a name of its own (`image:` in the compose file), "
                        "or leave `image:` out.",
                    )
            names += build.names
        return names

    async def sweep(
        self, project: str, before: set[str], volumes_before: set[str], networks_before: set[str]
    ) -> None:
        """Remove what a Compose command of this call made in ``project`` (containers, then
        the networks and volumes Compose created for it), after a refusal or a failed create."""
        for container_id in set(await self.project_containers(project)) - before:
            await self.remove_container(container_id, volumes_before)
        networks = [n for n in await self.project_networks(project) if n not in networks_before]
        if networks:
            await self.docker_cli(["network", "rm", *networks])
        volumes = [v for v in await self.project_volumes(project) if v not in volumes_before]
        if volumes:
            await self.docker_cli(["volume", "rm", *volumes])

    async def project_volumes(self, project: str) -> list[str]:
        label = f"label=com.docker.compose.project={project}"
        return (await self.docker_cli(["volume", "ls", "--quiet", "--filter", label])).stdout.split()

    async def project_networks(self, project: str) -> list[str]:
        label = f"label=com.docker.compose.project={project}"
        done = await self.docker_cli(["network", "ls", "--quiet", "--no-trunc", "--filter", label])
        return done.stdout.split()

    async def project_containers(self, project: str) -> list[str]:
        done = await self.docker_cli(
            [
                "ps",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={project}",
            ]
        )
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    # ------------------------------------------------------------------ the docker CLI

    async def inspect(self, kind: str, refs: Sequence[str]) -> list[dict[str, Any]]:
        if not refs:
            return []
        done = await self.docker_cli([kind, "inspect", *refs])
        if done.returncode != 0:
            raise Refused(f"cannot inspect {kind} {' '.join(refs)}: {done.stderr.strip()[:300]}")
        data = json.loads(done.stdout or "[]")
        return [d for d in data if isinstance(d, dict)]

    async def other_binds(self, exclude: str) -> tuple[tuple[str, bool, str], ...]:
        """The host folders every other container on the engine mounts (binds, and volumes that
        mount a folder like one), for the nested-bind rule; a container that goes away
        meanwhile is left out (it mounts nothing any more).

        Raises:
            Refused: the containers could not be listed (fail closed).
        """
        ids = (await self.docker_cli(["ps", "--all", "--quiet", "--no-trunc"])).stdout.split()
        if not ids:
            return ()
        done = await self.docker_cli(["container", "inspect", *ids])
        try:
            raws = [d for d in json.loads(done.stdout or "") if isinstance(d, dict)]
        except ValueError:
            raise Refused(f"cannot list the engine's containers: {done.stderr.strip()[:300]}") from None
        names = sorted({v for raw in raws for v in mounted_volume_names(raw)})
        volumes = (
            {str(v["Name"]): volume_info(v) for v in await self.inspect("volume", names)} if names else {}
        )
        return listed_binds(raws, volumes, exclude=exclude)

    async def inspect_quietly(self, kind: str, ref: str) -> dict[str, Any] | None:
        """``ref``'s inspect body, or None when there is no such object."""
        done = await self.docker_cli([kind, "inspect", ref])
        data = json.loads(done.stdout or "[]") if done.returncode == 0 else []
        return data[0] if data and isinstance(data[0], dict) else None

    async def volume_names(self) -> list[str]:
        done = await self.docker_cli(["volume", "ls", "--quiet"])
        return done.stdout.split()

    async def docker_cli(self, args: Sequence[str]) -> Completed:
        return await run_process([self.docker, *args], timeout=_TIMEOUT, env=self.env)


def _read_text(path: str) -> str:
    """A Dockerfile's text ("" when it cannot be read: the build then says why)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(_DOCKERFILE_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _resolver() -> PathResolver:
    if os.environ.get(ENV_RESOLVER) == "local":
        from mcp_docker_server.state import local_resolver  # the host's real paths, as the server sees them

        return local_resolver
    return lexical_resolver


def _refuse(state: Path, exc: PolicyDenied | Refused) -> int:
    if isinstance(exc, PolicyDenied):
        record = {"rule": exc.rule, "reason": exc.reason, "hint": exc.hint, "setting": exc.setting}
        text = str(exc)
    else:
        record = {"rule": "", "reason": str(exc), "hint": None, "setting": None}
        text = f"Not run: {exc}."
    (state / REFUSAL_FILE).write_text(json.dumps(record))
    sys.stderr.write(f"mcp-docker-server: {text}\n")
    return 1


def main(argv: Sequence[str]) -> int:
    """Decide on one docker command (``argv`` without the program name); see the module doc."""
    state = Path(os.environ[ENV_STATE])
    shim = Shim(
        os.environ[ENV_DOCKER],
        state,
        policy_from_json((state / POLICY_FILE).read_text()),
        _resolver(),
        os.environ.get(ENV_PUBLISH) or "127.0.0.1",
        os.environ.get(ENV_FOLDER) or "",
    )
    try:
        tokens = anyio.run(shim.decide, list(argv))
    except (PolicyDenied, Refused) as exc:
        anyio.run(shim.undo)
        return _refuse(state, exc)
    except DockerServerError as exc:
        sys.stderr.write(f"mcp-docker-server: {exc}\n")
        return 1
    sys.stdout.write(shlex.join(tokens))  # read back by the wrapper's eval, word for word
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
