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

from mcp_docker_server.policy.model import Policy

__all__ = [
    "ExecCall",
    "RunCall",
    "compose_split",
    "injected_options",
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
_BOOLEAN_SHORT = frozenset("ditPq")
# Options `docker create` does not have: run-only, about the attached client.
_RUN_ONLY_LONG = frozenset({"--detach", "--sig-proxy", "--detach-keys"})
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RunCall:
    """A `docker run` command line: the options `docker create` takes, the image and command,
    and how the client wanted to be attached."""

    create_options: tuple[str, ...]
    image_and_command: tuple[str, ...]
    detach: bool = False
    interactive: bool = False
    sig_proxy: bool = True
    options_given: frozenset[str] = frozenset()


def _flag(value: str, has_value: bool) -> bool:
    return value.lower() not in ("false", "0") if has_value else True


def parse_run(args: Sequence[str]) -> RunCall:
    """Read the arguments after ``run`` (or ``container run``).

    Raises:
        ValueError: there is no image.
    """
    kept: list[str] = []
    given: set[str] = set()
    state = {"detach": False, "interactive": False, "sig_proxy": True}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        arg = args[i]
        if arg == "--":
            i += 1
            break
        name, sep, value = arg.partition("=")
        has_value = bool(sep)
        if name.startswith("--"):
            given.add(name)
            key = {"--detach": "detach", "--interactive": "interactive", "--sig-proxy": "sig_proxy"}.get(name)
            if key:
                state[key] = _flag(value, has_value)
            step = 2 if name not in _BOOLEAN_LONG and not has_value else 1
            if name not in _RUN_ONLY_LONG:
                kept.extend(args[i : i + step])
        elif set(arg[1:]) <= _BOOLEAN_SHORT:  # -d, -it, -dit
            state["detach"] = state["detach"] or "d" in arg
            state["interactive"] = state["interactive"] or "i" in arg
            given.update(f"-{c}" for c in arg[1:])
            step = 1
            if arg[1:].replace("d", ""):
                kept.append("-" + arg[1:].replace("d", ""))
        else:
            given.add(arg[:2])
            step = 1 if len(arg) > 2 else 2  # -eFOO=bar carries its value; -e FOO=bar does not
            kept.extend(args[i : i + step])
        i += step
    rest = tuple(args[i:])
    if not rest:
        raise ValueError("docker run without an image")
    return RunCall(
        tuple(kept), rest, state["detach"], state["interactive"], state["sig_proxy"], frozenset(given)
    )


def injected_options(policy: Policy, call: RunCall, scope_labels: dict[str, str]) -> list[str]:
    """What the server adds to every container it creates: the scope label (``label_scope``)
    and the policy's defaults (no-new-privileges, memory, CPUs, pids), unless the command line
    sets them itself."""
    options: list[str] = []
    for key, value in scope_labels.items():
        options += ["--label", f"{key}={value}"]
    opts = call.create_options
    security = [opts[i + 1] for i in range(len(opts) - 1) if opts[i] == "--security-opt"]
    security += [t.partition("=")[2] for t in opts if t.startswith("--security-opt=")]
    if policy.no_new_privileges and not any(s.startswith("no-new-privileges") for s in security):
        options += ["--security-opt", "no-new-privileges=true"]
    given = call.options_given
    if policy.default_memory_bytes and not given & {"--memory", "-m"}:
        options += ["--memory", str(policy.default_memory_bytes)]
    if policy.default_nano_cpus and "--cpus" not in given:
        options += ["--cpus", f"{policy.default_nano_cpus / 1e9:g}"]
    if policy.default_pids_limit and "--pids-limit" not in given:
        options += ["--pids-limit", str(policy.default_pids_limit)]
    return options


def _publish_on(value: str, address: str) -> str:
    """One ``-p`` value with ``address`` as its host address when it names none (as
    run-container binds ports given without one): ``8080:80`` -> ``127.0.0.1:8080:80``,
    ``80`` -> ``127.0.0.1::80``; values with an address are kept."""
    if value.startswith("[") or value.count(":") >= 2:
        return value
    host, sep, container = value.partition(":")
    return f"{address}:{host}:{container}" if sep else f"{address}::{value}"


def bind_published_ports(options: Sequence[str], address: str) -> list[str]:
    """``options`` with every published port that names no host address bound to ``address``
    (`docker run -p 8080:80` would listen on every interface; devcontainer.json appPort asks
    exactly that). ``-P`` (every exposed port, on every interface) is left to the judge."""
    out: list[str] = []
    i = 0
    while i < len(options):
        arg = options[i]
        if arg in ("-p", "--publish") and i + 1 < len(options):
            out += [arg, _publish_on(options[i + 1], address)]
            i += 2
            continue
        if arg.startswith("--publish="):
            arg = "--publish=" + _publish_on(arg.removeprefix("--publish="), address)
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
            arg = "-p" + _publish_on(arg[2:], address)
        out.append(arg)
        i += 1
    return out


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
