"""The docker command lines the Dev Containers CLI runs, read and rewritten (pure).

The shim turns ``docker run ...`` into ``docker create ...`` with the same options, so the
container can be judged on the engine's own description before anything in it runs, and then
into the ``docker start`` that gives the CLI what ``run`` would have (attached output, or the
id when detached). Parsing is needed only to find and drop the few run-only options: a flag
this table does not know is kept as it is, and whatever the engine makes of it is judged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp_docker_server.policy.containers import security_option
from mcp_docker_server.policy.model import Policy

__all__ = [
    "BuildCall",
    "ExecCall",
    "RunCall",
    "compose_files",
    "compose_split",
    "injected_options",
    "judged_compose_globals",
    "parse_build",
    "parse_exec",
    "parse_run",
    "start_tokens",
]

# `docker run` options that take no value (everything else starting with "-" takes one,
# unless written "--flag=value").
_BOOLEAN_LONG = frozenset(
    {
        "--detach", "--interactive", "--tty", "--rm", "--privileged", "--init", "--read-only",
        "--publish-all", "--oom-kill-disable", "--no-healthcheck", "--sig-proxy", "--quiet",
        "--disable-content-trust", "--help", "--use-api-socket",
    }
)  # fmt: skip
# Short options, by the long option they stand for (docker CLI cli/command/container/opts.go).
_SHORT = {
    "d": "--detach", "i": "--interactive", "t": "--tty", "P": "--publish-all", "q": "--quiet",
    "a": "--attach", "c": "--cpu-shares", "e": "--env", "h": "--hostname", "l": "--label",
    "m": "--memory", "p": "--publish", "u": "--user", "v": "--volume", "w": "--workdir",
}  # fmt: skip
# Options `docker create` does not have: run-only, about the attached client.
_RUN_ONLY_LONG = frozenset({"--detach", "--sig-proxy", "--detach-keys"})
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")

Option = tuple[str, str | None]  # (long name, value); None: a boolean given without a value


@dataclass(frozen=True)
class RunCall:
    """A `docker run` command line read as the docker CLI reads it: every option in order by its
    long name with its value, the image and command, and how the client wanted to be attached.
    What the shim checks and rewrites comes from ``options``, never from a second scan of the
    words (a value such as ``--label -p`` is a value, not an option)."""

    options: tuple[Option, ...]
    image_and_command: tuple[str, ...]

    def switch(self, name: str, default: bool = False) -> bool:
        """The boolean option ``name`` as the docker CLI leaves it: the last time it is given
        counts (``--detach --detach=false`` is off), ``default`` when it is not given."""
        values = [v for n, v in self.options if n == name]
        return default if not values else values[-1] is None or _flag(values[-1])

    @property
    def detach(self) -> bool:
        """``-d``/``--detach``."""
        return self.switch("--detach")

    @property
    def sig_proxy(self) -> bool:
        """``--sig-proxy`` (on unless set false)."""
        return self.switch("--sig-proxy", default=True)

    @property
    def interactive(self) -> bool:
        """``-i``/``--interactive``."""
        return self.switch("--interactive")

    @property
    def options_given(self) -> frozenset[str]:
        """The long names given: valued options, and booleans that are on."""
        return frozenset(n for n, v in self.options if n not in _BOOLEAN_LONG or v is None or _flag(v))

    def values(self, name: str) -> list[str]:
        """The values given to the valued option ``name`` (a long name), in order."""
        return [v for n, v in self.options if n == name and v is not None]

    @property
    def create_options(self) -> tuple[str, ...]:
        """The options as `docker create` words (run-only ones left out)."""
        words: list[str] = []
        for name, value in self.options:
            if name in _RUN_ONLY_LONG:
                continue
            if value is None:
                words.append(name)
            elif name in _BOOLEAN_LONG:
                words.append(f"{name}={value}")
            else:
                words += [name, value]
        return tuple(words)


def _flag(value: str) -> bool:
    return value.lower() not in ("false", "0")


def _short_cluster(args: Sequence[str], i: int, options: list[Option]) -> int:
    """Read the short-option cluster ``args[i]`` as the docker CLI does (spf13/pflag
    ``parseShortArg``): letters are flags until one takes a value, which is the rest of the
    cluster (``-tp8080:80``, ``-p=8080:80``) or else the next word (``-tp 8080:80``); a boolean
    letter may take ``=value`` (``-P=false``). How many words were read.

    Raises:
        ValueError: a letter this table does not know (read wrongly, it would hide the options
            after it from the judge), or a value missing at the end.
    """
    letters = args[i][1:]
    for j, letter in enumerate(letters):
        name = _SHORT.get(letter)
        if name is None:
            raise ValueError(f"unknown docker run option -{letter} in {args[i]!r}")
        rest = letters[j + 1 :]
        if name in _BOOLEAN_LONG:
            options.append((name, rest[1:] if rest.startswith("=") else None))
            if rest.startswith("="):
                return 1
            continue
        if rest:
            options.append((name, rest.removeprefix("=")))
            return 1
        if i + 1 >= len(args):
            raise ValueError(f"docker run option -{letter} without a value")
        options.append((name, args[i + 1]))
        return 2
    return 1


def parse_run(args: Sequence[str]) -> RunCall:
    """Read the arguments after ``run`` (or ``container run``) as the docker CLI does: options
    until the first word that is not one (the image).

    Raises:
        ValueError: there is no image, an option lacks its value, or ``--`` ends the options
            (the docker CLI would then read the next word as the image; the create command this
            shim builds would not, and what follows would be options nobody judged).
    """
    options: list[Option] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        arg = args[i]
        if arg == "--":
            raise ValueError("`--` among the docker run options (runArgs): remove it")
        if arg.startswith("--"):
            name, sep, value = arg.partition("=")
            if sep:
                options.append((name, value))
                i += 1
            elif name in _BOOLEAN_LONG:
                options.append((name, None))
                i += 1
            elif i + 1 < len(args):
                options.append((name, args[i + 1]))
                i += 2
            else:
                raise ValueError(f"docker run option {name} without a value")
        else:
            i += _short_cluster(args, i, options)
    rest = tuple(args[i:])
    if not rest:
        raise ValueError("docker run without an image")
    return RunCall(tuple(options), rest)


def injected_options(policy: Policy, call: RunCall, scope_labels: dict[str, str]) -> list[str]:
    """What the server adds to every container it creates: the scope label (``label_scope``)
    and the policy's defaults (no-new-privileges, memory, CPUs, pids), unless the command line
    sets them itself."""
    options: list[str] = []
    for key, value in scope_labels.items():
        options += ["--label", f"{key}={value}"]
    named = {security_option(s)[0] for s in call.values("--security-opt")}
    if policy.no_new_privileges and "no-new-privileges" not in named:
        options += ["--security-opt", "no-new-privileges=true"]
    given = call.options_given
    if policy.default_memory_bytes and "--memory" not in given:
        options += ["--memory", str(policy.default_memory_bytes)]
    if policy.default_nano_cpus and "--cpus" not in given:
        options += ["--cpus", f"{policy.default_nano_cpus / 1e9:g}"]
    if policy.default_pids_limit and "--pids-limit" not in given:
        options += ["--pids-limit", str(policy.default_pids_limit)]
    return options


# The fields of the long `--publish` syntax (docker CLI opts/port.go): `host_ip` is not one
# (the docker CLI ignores keys it does not know, so a port so written listens everywhere).
_PUBLISH_KEYS = frozenset({"target", "published", "protocol", "mode"})


def _publish_on(value: str, address: str) -> str:
    """One ``-p`` value with ``address`` as its host address when it names none (as
    run-container binds ports given without one): ``8080:80`` -> ``127.0.0.1:8080:80``,
    ``80`` -> ``127.0.0.1::80``, ``:8080:80`` (an empty address) -> ``127.0.0.1:8080:80``; the
    long syntax (``published=8080,target=80``), which has no address, is written short with
    one. Values with an address are kept.

    Raises:
        ValueError: a long-syntax field this code does not know, or no target.
    """
    if "=" in value:
        fields = dict(part.partition("=")[::2] for part in value.split(","))
        if set(fields) - _PUBLISH_KEYS or not fields.get("target"):
            raise ValueError(
                f"--publish {value!r}: write ports as [ADDRESS:]PUBLISHED:TARGET[/PROTOCOL] "
                f"(the long syntax knows only {', '.join(sorted(_PUBLISH_KEYS))})"
            )
        protocol = f"/{fields['protocol']}" if fields.get("protocol") else ""
        return f"{address}:{fields.get('published', '')}:{fields['target']}{protocol}"
    if value.startswith("[") or (value.count(":") >= 2 and not value.startswith(":")):
        return value
    if value.count(":") >= 2:
        return f"{address}{value}"
    host, sep, container = value.partition(":")
    return f"{address}:{host}:{container}" if sep else f"{address}::{value}"


def bind_published_ports(call: RunCall, address: str) -> RunCall:
    """``call`` with every published port that names no host address bound to ``address``
    (`docker run -p 8080:80` would listen on every interface; devcontainer.json appPort asks
    exactly that). ``-P`` (every exposed port, on every interface) is left to the shim.

    Raises:
        ValueError: a port in the long syntax this code cannot rewrite.
    """
    options = tuple(
        (name, _publish_on(value, address)) if name == "--publish" and value is not None else (name, value)
        for name, value in call.options
    )
    return RunCall(options, call.image_and_command)


def start_tokens(call: RunCall, container_id: str) -> list[str]:
    """The `docker start` arguments that stand in for the rest of `docker run`: attached (with
    stdin when it was interactive) unless it was detached.

    Raises:
        ValueError: ``container_id`` is not a full container id.
    """
    if not _CONTAINER_ID.fullmatch(container_id):
        raise ValueError(f"not a container id: {container_id!r}")
    if call.detach:
        return ["start", container_id]
    # `docker start --attach` always forwards signals (it has no --sig-proxy): the CLI leaves
    # this process running and never signals it, so the container is not stopped by it.
    tokens = ["start", "--attach"]
    if call.interactive:
        tokens.append("--interactive")
    return [*tokens, container_id]


# `docker compose` global options that take a value.
_COMPOSE_VALUED = frozenset(
    {
        "-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile",
        "--ansi", "--progress", "--parallel",
    }
)  # fmt: skip


def compose_split(args: Sequence[str]) -> tuple[list[str], str, list[str]]:
    """Split the arguments after ``compose`` into (global options, subcommand, its arguments);
    the subcommand is "" when there is none."""
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            return list(args[:i]), arg, list(args[i + 1 :])
        i += 2 if arg in _COMPOSE_VALUED else 1
    return list(args), "", []


def compose_files(globals_: Sequence[str]) -> list[str]:
    """The compose files ``-f``/``--file`` name among Compose's global options, in order."""
    files: list[str] = []
    for i, arg in enumerate(globals_):
        name, has_value, value = arg.partition("=")
        if name in ("-f", "--file"):
            files.append(value if has_value else (globals_[i + 1] if i + 1 < len(globals_) else ""))
    return [f for f in files if f]


def judged_compose_globals(globals_: Sequence[str], file: Path, directory: Path) -> list[str]:
    """The global options for Compose to run the judged copy ``file`` instead of the project's
    files: ``-f``, ``--project-directory`` (a private folder, so no ``.env`` is read again) and
    ``--env-file`` are replaced; the project name, profiles and the rest are kept."""
    kept: list[str] = []
    i = 0
    dropped = {"-f", "--file", "--project-directory", "--env-file"}
    while i < len(globals_):
        name, has_value, _ = globals_[i].partition("=")
        step = 2 if name in _COMPOSE_VALUED and not has_value else 1
        if name not in dropped:
            kept.extend(globals_[i : i + step])
        i += step
    return [*kept, "-f", str(file), "--project-directory", str(directory)]


# Build options the CLI itself passes (devcontainer.json build.options adds others): anything
# else (network, entitlements, secrets, ssh, outputs, host build contexts) is refused.
_BUILD_VALUED = frozenset({"-f", "--file", "-t", "--tag", "--target", "--build-arg", "--label", "--platform",
                           "--progress", "--cache-from"})  # fmt: skip
_BUILD_FLAGS = frozenset({"--load", "--no-cache", "--pull", "-q", "--quiet", "--rm", "--force-rm"})


@dataclass(frozen=True)
class BuildCall:
    """A `docker build` / `docker buildx build` command line: the tags it gives, its absolute
    context folders, its Dockerfile (absolute: ``-f``, else ``Dockerfile`` in the context) and
    build arguments."""

    tags: tuple[str, ...]
    contexts: tuple[str, ...]
    dockerfile: str
    build_args: tuple[tuple[str, str], ...]


def parse_build(args: Sequence[str]) -> BuildCall:
    """Read the arguments after ``build`` (or ``buildx build``).

    Raises:
        ValueError: an option the CLI does not pass itself, a cache from a source this server
            does not judge, or a context that is not an absolute folder (or ``-``).
    """
    i, contexts, tags, dockerfile = 0, [], [], ""
    build_args: list[tuple[str, str]] = []
    while i < len(args):
        name, has_value, attached = args[i].partition("=")
        if name in _BUILD_VALUED:
            value = attached if has_value else (args[i + 1] if i + 1 < len(args) else "")
            if name == "--cache-from" and "=" in value:
                raise ValueError(f"build option --cache-from {value} reads a cache this server cannot judge")
            if name in ("-f", "--file") and not value.startswith("/"):
                # docker reads a relative -f from its working folder, not the context: not judged.
                raise ValueError(f"build option {name} {value!r} is not an absolute path")
            if name in ("-t", "--tag"):
                tags.append(value)
            elif name in ("-f", "--file"):
                dockerfile = value
            elif name == "--build-arg" and "=" in value:
                key, _, arg = value.partition("=")
                build_args.append((key, arg))
            i += 1 if has_value else 2
        elif name in _BUILD_FLAGS:
            i += 1
        elif name.startswith("-") and name != "-":
            raise ValueError(
                f"build option {name} is not allowed for dev containers (it may reach the host or "
                "the network); remove it from devcontainer.json build.options"
            )
        else:
            if not args[i].startswith("/") and args[i] != "-":
                raise ValueError(f"build context {args[i]!r} is not an absolute folder")
            contexts.append(args[i])
            i += 1
    folders = [c for c in contexts if c != "-"]
    if not dockerfile and folders:
        dockerfile = f"{folders[-1].rstrip('/')}/Dockerfile"
    return BuildCall(tuple(tags), tuple(folders), dockerfile, tuple(build_args))


# `docker exec` options that take a value.
_EXEC_VALUED = frozenset({"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"})


@dataclass(frozen=True)
class ExecCall:
    """A `docker exec` command line: the container, the user asked for, privileged or not."""

    container: str
    user: str | None
    privileged: bool
    command: tuple[str, ...]


def parse_exec(args: Sequence[str]) -> ExecCall:
    """Read the arguments after ``exec``.

    Raises:
        ValueError: there is no container.
    """
    user: str | None = None
    privileged = False
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        name, sep, value = arg.partition("=")
        if name in _EXEC_VALUED and not sep:
            value = args[i + 1] if i + 1 < len(args) else ""
            i += 1
        if name in ("-u", "--user"):
            user = value
        elif name == "--privileged":
            privileged = value.lower() not in ("false", "0") if sep else True
        elif not name.startswith("--") and len(arg) > 2:
            if arg[1] == "u":  # -uroot: the value attached
                user = arg[2:]
            elif arg[1] not in "ew" and not set(arg[1:]) <= set("dit"):
                raise ValueError(f"unreadable exec option {arg!r}")
        i += 1
    if i >= len(args):
        raise ValueError("docker exec without a container")
    return ExecCall(args[i], user, privileged, tuple(args[i + 1 :]))
