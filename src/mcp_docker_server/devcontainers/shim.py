"""The docker the Dev Containers CLI runs: ``python -m mcp_docker_server.devcontainers.shim ARGS``.

The CLI is given a generated wrapper script as its ``--docker-path`` (:mod:`.workdir`). The
wrapper passes plain reads (ps, inspect, events, logs...) straight to the real docker CLI and
asks this module about everything else. This module decides, and prints the decision on
stdout for the wrapper:

- nothing: run the original docker command as it is (a pull of an allowed image, a build with
  only the options the CLI itself uses, ``docker exec`` without ``--privileged``);
- docker arguments (``start --attach <id>``): run those instead. ``docker run`` is done as
  ``docker create`` with the same options (plus the scope label and the policy's defaults),
  the created container is inspected and judged by the same judge as run-container, and only
  then does the wrapper start it, attached as ``run`` would have been.

A refusal removes what it created (the container, the named volumes its creation made),
writes the reason to ``refusal.json`` in the call's private folder (the server turns it into
the tool's error), prints it on stderr, and exits 1. Anything this module does not know is
refused: a new command the CLI starts using fails closed, with a message naming it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from mcp_docker_server.devcontainers.describe import description, mounted_volume_names, network_refs
from mcp_docker_server.devcontainers.gate import policy_from_json
from mcp_docker_server.devcontainers.runargs import (
    bind_published_ports,
    compose_split,
    injected_options,
    parse_exec,
    parse_run,
    start_tokens,
)
from mcp_docker_server.errors import DockerServerError, PolicyDenied
from mcp_docker_server.policy import admit_exec, check_host_path, check_image, lexical_resolver, scope_labels
from mcp_docker_server.policy.admission import judge_container
from mcp_docker_server.policy.compose import env_files_of, judge_compose_config
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.processes import Completed, run_process
from mcp_docker_server.specs.containers import ExecSpec

__all__ = ["ENV_DOCKER", "ENV_PUBLISH", "ENV_RESOLVER", "ENV_STATE", "REFUSAL_FILE", "main"]

ENV_DOCKER = "MCP_DOCKER_DEVCONTAINER_DOCKER"  # the real docker CLI
ENV_STATE = "MCP_DOCKER_DEVCONTAINER_STATE"  # the call's private folder (policy.json, refusal.json)
ENV_RESOLVER = "MCP_DOCKER_DEVCONTAINER_RESOLVER"  # "local" (engine on this host) or "lexical"
ENV_PUBLISH = "MCP_DOCKER_DEVCONTAINER_PUBLISH"  # MCP_DOCKER_PUBLISH_ADDRESS of the server
POLICY_FILE = "policy.json"
REFUSAL_FILE = "refusal.json"
BUILT_FILE = "built.json"  # images this call built that did not exist before
CREATED_FILE = "created.json"  # containers this call created, and the named volumes that made
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
# Build options the CLI itself passes (devcontainer.json build.options adds others): anything
# else (network, entitlements, secrets, ssh, outputs, host build contexts) is refused.
_BUILD_VALUED = frozenset({"-f", "--file", "-t", "--tag", "--target", "--build-arg", "--label", "--platform",
                           "--progress", "--cache-from"})  # fmt: skip
_BUILD_FLAGS = frozenset({"--load", "--no-cache", "--pull", "-q", "--quiet", "--rm", "--force-rm"})


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
    ) -> None:
        self.docker = docker
        self.publish_address = publish_address
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
            tags = self.judge_build(rest if command == "build" else rest[1:])
            await self.note_new_images(tags)
            return []
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
            call = parse_run(args)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        # Options the docker CLI acts on here, on the host, before the engine sees anything: it
        # reads --env-file/--label-file (any file the server can read, into the container), writes
        # --cidfile (anywhere), and -P publishes every port on every interface.
        host_side = {"--env-file", "--label-file", "--cidfile", "--publish-all", "-P"} & call.options_given
        if host_side:
            raise PolicyDenied(
                "devcontainer-run-option",
                f"runArgs {', '.join(sorted(host_side))}: the docker CLI would read or write host files "
                "(or publish every port on every interface) outside what the engine describes",
                hint="set the variables in containerEnv, and publish ports with forwardPorts or appPort.",
            )
        labels = scope_labels(self.policy, {})
        before = set(await self.volume_names())
        create = [
            "create",
            *injected_options(self.policy, call, labels),
            *bind_published_ports(call.create_options, self.publish_address),
            *call.image_and_command,
        ]
        done = await self.docker_cli(create)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(done.returncode)
        container_id = done.stdout.strip().splitlines()[-1].strip()
        try:
            await self.judge_container_id(container_id)
        except PolicyDenied:
            await self.remove_container(container_id, before)
            raise
        await self.note(
            CREATED_FILE, [f"container:{container_id}", *await self.new_volumes(container_id, before)]
        )
        if create_only:
            return ["inspect", "--format", "{{.Id}}", container_id]
        return start_tokens(call, container_id)

    async def judge_existing(self, refs: Sequence[str]) -> None:
        for ref in refs:
            await self.judge_container_id(ref)

    async def judge_container_id(self, ref: str) -> None:
        raw = (await self.inspect("container", [ref]))[0]
        volumes = {str(v["Name"]): v for v in await self.inspect("volume", mounted_volume_names(raw))}
        refs = network_refs(raw)
        found = {str(n["Id"]): n for n in await self.inspect("network", sorted(set(refs.values())))}
        networks = {name: found[ref] for name, ref in refs.items() if ref in found}
        info = await self.docker_cli(["info", "--format", "{{.CgroupVersion}}"])
        judge_container(self.policy, description(raw, volumes, networks, info.stdout.strip()), self.resolve)

    async def judge_exec(self, args: Sequence[str]) -> None:
        """The exec-container rules: no privileged exec, and no root exec when the operator
        forbids it (an exec without a user runs as the container's own user)."""
        try:
            call = parse_exec(args)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        default_user = ""
        if call.user is None and not self.policy.allow_root_exec:
            raw = (await self.inspect("container", [call.container]))[0]
            default_user = str((raw.get("Config") or {}).get("User") or "")
        spec = ExecSpec(call.container, call.command, user=call.user, privileged=call.privileged)
        admit_exec(self.policy, spec, default_user)

    async def remove_container(self, container_id: str, volumes_before: set[str]) -> None:
        raw = await self.inspect("container", [container_id])
        made = [v for v in mounted_volume_names(raw[0]) if v not in volumes_before] if raw else []
        await self.docker_cli(["rm", "--force", "--volumes", container_id])
        if made:
            await self.docker_cli(["volume", "rm", *made])

    # ------------------------------------------------------------------ builds

    def judge_build(self, args: Sequence[str]) -> list[str]:
        """Refuse build options the CLI does not use itself, and host paths the rule refuses;
        the tags it names."""
        i, positional, tags = 0, [], []
        while i < len(args):
            name, has_value, _ = args[i].partition("=")
            if name in _BUILD_VALUED:
                value = args[i].partition("=")[2] if has_value else (args[i + 1] if i + 1 < len(args) else "")
                if name == "--cache-from" and "=" in value:
                    raise Refused(
                        f"build option --cache-from {value} reads a cache this server does not judge"
                    )
                if name in ("-t", "--tag"):
                    tags.append(value)
                if name in ("-f", "--file") and value.startswith("/"):
                    check_host_path(self.policy, value, self.resolve, purpose="Dockerfile", mounted=False)
                i += 1 if has_value else 2
            elif name in _BUILD_FLAGS:
                i += 1
            elif name.startswith("-"):
                raise Refused(
                    f"build option {name} is not allowed for dev containers (it may reach the host or "
                    "the network); remove it from devcontainer.json build.options"
                )
            else:
                positional.append(args[i])
                i += 1
        for context in positional:
            if context.startswith("/"):
                check_host_path(self.policy, context, self.resolve, purpose="build context", mounted=False)
            elif context != "-":
                raise Refused(f"build context {context!r} is not an absolute folder")
        return tags

    async def note_new_images(self, tags: Sequence[str]) -> None:
        """Remember the tags a build makes that do not exist yet: a refusal later in this call
        removes them (a refused dev container leaves nothing behind)."""
        new = [t for t in tags if (await self.docker_cli(["image", "inspect", t])).returncode != 0]
        await self.note(BUILT_FILE, [f"image:{t}" for t in new])

    async def note(self, name: str, items: Sequence[str]) -> None:
        """Add ``items`` to the call's record ``name`` (the docker commands of one call run one
        after another, never at once)."""
        if items:
            path = self.state / name
            previous = json.loads(path.read_text()) if path.exists() else []
            path.write_text(json.dumps([*previous, *items]))

    async def new_volumes(self, container_id: str, before: set[str]) -> list[str]:
        raw = await self.inspect("container", [container_id])
        return [f"volume:{v}" for v in mounted_volume_names(raw[0]) if v not in before] if raw else []

    async def undo(self) -> None:
        """After a refusal: remove what this call created (containers, the named volumes and
        networks their creation made, images it built), so a refused dev container leaves
        nothing behind. Records are "kind:ref"."""
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
        globals_, sub, rest = compose_split(args)
        if sub in _COMPOSE_PASS or not sub:
            return []
        if sub not in _COMPOSE_JUDGED:
            raise Refused(f"`docker compose {sub}` is not run for dev containers by this server")
        rendered = await self.docker_cli(["compose", *globals_, "config", "--format", "json"])
        if rendered.returncode != 0:
            sys.stderr.write(rendered.stderr)
            raise SystemExit(rendered.returncode)
        config = json.loads(rendered.stdout)
        judge_compose_config(self.policy, config, self.resolve, env_files=await self.env_files(globals_))
        if sub == "build":
            return []
        project = str(config.get("name") or "")
        before = set(await self.project_containers(project))
        volumes_before = set(await self.volume_names())
        networks_before = set(await self.project_networks(project))
        services = [a for a in rest if not a.startswith("-")] if sub in ("up", "create") else []
        if sub in ("up", "create"):
            made = await self.docker_cli(["compose", *globals_, "create", *services])
            if made.returncode != 0:
                sys.stderr.write(made.stderr)
                raise SystemExit(made.returncode)
        ids = await self.project_containers(project)
        try:
            for container_id in ids:
                await self.judge_container_id(container_id)
            networks = [
                f"network:{n}" for n in await self.project_networks(project) if n not in networks_before
            ]
            created = [f"container:{c}" for c in sorted(set(ids) - before)]
            await self.note(CREATED_FILE, [*created, *networks])
        except PolicyDenied:
            for container_id in set(ids) - before:
                await self.remove_container(container_id, volumes_before)
            networks = [n for n in await self.project_networks(project) if n not in networks_before]
            if networks:
                await self.docker_cli(["network", "rm", *networks])
            raise
        return []

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

    async def volume_names(self) -> list[str]:
        done = await self.docker_cli(["volume", "ls", "--quiet"])
        return done.stdout.split()

    async def docker_cli(self, args: Sequence[str]) -> Completed:
        return await run_process([self.docker, *args], timeout=_TIMEOUT, env=os.environ)


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
    )
    try:
        tokens = anyio.run(shim.decide, list(argv))
    except (PolicyDenied, Refused) as exc:
        anyio.run(shim.undo)
        return _refuse(state, exc)
    except DockerServerError as exc:
        sys.stderr.write(f"mcp-docker-server: {exc}\n")
        return 1
    sys.stdout.write(" ".join(tokens))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
