"""Compose's ``develop.watch`` section, judged (pure).

`docker compose watch` streams every watched ``path`` (a host file or folder, read by Compose on
this machine) into a container, rebuilds images from the service's ``build`` section, restarts
services and runs ``sync+exec`` commands in containers. The paths pass the host-path rule as
mounts do (a folder's contents end up in a container); the exec commands pass the exec rules
(``policy.containers.admit_exec``) once the containers exist, since their default user is the
container's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_docker_server.errors import InvalidArgument, PolicyDenied
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.policy.paths import check_host_path

__all__ = ["WATCH_EXAMPLE", "ExecHook", "judge_develop", "pin_watch_paths", "watch_hooks"]

WATCH_EXAMPLE = """services:
  web:
    build: .
    develop:
      watch:
        - action: sync      # copy changed files into the running container
          path: ./src
          target: /app/src
        - action: rebuild   # rebuild the image and recreate the container
          path: package.json"""

_ACTIONS = frozenset({"sync", "rebuild", "restart", "sync+restart", "sync+exec"})
_TRIGGER_KEYS = frozenset({"path", "action", "target", "ignore", "include", "exec", "initial_sync"})
_EXEC_KEYS = frozenset({"command", "user", "privileged", "working_dir", "environment"})


@dataclass(frozen=True)
class ExecHook:
    """A ``sync+exec`` command Compose runs in every container of ``service`` after a sync."""

    service: str
    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


def judge_develop(policy: Policy, config: Mapping[str, Any], resolve: PathResolver) -> tuple[str, ...]:
    """Admit the ``develop.watch`` sections of a rendered project (`config --format json`), or
    raise. Returns the services that have one.

    Raises:
        InvalidArgument: no service has a ``develop.watch`` section (the message shows one).
        PolicyDenied: naming the service, the entry and the rule: a watched path the host-path
            rule refuses, an unknown key or action (fail closed), a privileged exec, or the
            deprecated ``x-develop`` (configured outside what is judged here).
    """
    watched = []
    for name, service in (config.get("services") or {}).items():
        service = service or {}
        if "x-develop" in service:
            raise PolicyDenied(
                "compose-key",
                f"service {name}: x-develop is Compose's deprecated watch section, read with paths "
                "relative to a folder the server does not judge",
                hint="rename x-develop to develop.",
            )
        develop = service.get("develop") or {}
        for key in develop:
            if key != "watch" and not str(key).startswith("x-"):
                _unknown(name, f"develop.{key}")
        triggers = develop.get("watch") or []
        for index, trigger in enumerate(triggers):
            _trigger(policy, f"service {name}: develop.watch[{index}]", trigger or {}, resolve)
        if triggers:
            watched.append(str(name))
    if not watched:
        raise InvalidArgument(
            "No service of this project has a develop.watch section, so there is nothing to watch.",
            hint=f"add one to the service whose code you edit, e.g.:\n{WATCH_EXAMPLE}",
        )
    return tuple(watched)


def _trigger(policy: Policy, where: str, trigger: Mapping[str, Any], resolve: PathResolver) -> None:
    for key in trigger:
        if key not in _TRIGGER_KEYS and not str(key).startswith("x-"):
            _unknown(where.partition(":")[0], f"{where.partition(': ')[2]}.{key}")
    action = str(trigger.get("action") or "")
    if action not in _ACTIONS:
        _unknown(where.partition(":")[0], f"{where.partition(': ')[2]}.action {action!r}")
    path = str(trigger.get("path") or "")
    if "$" in path or not path.startswith("/"):
        raise PolicyDenied(
            "host-path",
            f"{where}: path {path!r} is not an absolute path, so the folder watched cannot be judged",
            hint="write the path out in the compose file.",
        )
    try:
        # Compose reads it here and copies it into the container: judged as a mount.
        check_host_path(policy, path, resolve, purpose="watched folder", mounted=True)
    except PolicyDenied as exc:
        raise PolicyDenied(exc.rule, f"{where}: {exc.reason}", hint=exc.hint, setting=exc.setting) from exc
    hook = trigger.get("exec") or {}
    for key in hook:
        if key not in _EXEC_KEYS and not str(key).startswith("x-"):
            _unknown(where.partition(":")[0], f"{where.partition(': ')[2]}.exec.{key}")
    if action == "sync+exec" and hook.get("privileged") and not policy.allow_privileged:
        raise PolicyDenied(
            "privileged",
            f"{where}: a privileged exec gives the process full host access",
            hint="remove exec.privileged.",
            setting="allow_privileged = true",
        )


def _unknown(service: str, key: str) -> None:
    raise PolicyDenied(
        "compose-key",
        f"{service}: {key} is not known to this server",
        hint="use the develop.watch keys path, action, target, ignore, include, exec, initial_sync.",
    )


def watch_hooks(config: Mapping[str, Any]) -> tuple[ExecHook, ...]:
    """The ``sync+exec`` commands of a rendered project, to be judged as execs once the
    containers exist."""
    hooks = []
    for name, service in (config.get("services") or {}).items():
        for trigger in ((service or {}).get("develop") or {}).get("watch") or []:
            hook = (trigger or {}).get("exec") or {}
            if (trigger or {}).get("action") != "sync+exec" or not hook.get("command"):
                continue
            command = hook["command"]
            env = hook.get("environment") or {}
            if isinstance(env, list):
                env = dict(str(item).partition("=")[::2] for item in env)
            hooks.append(
                ExecHook(
                    service=str(name),
                    command=tuple(str(c) for c in (command if isinstance(command, list) else [command])),
                    user=str(hook["user"]) if hook.get("user") is not None else None,
                    privileged=bool(hook.get("privileged")),
                    working_dir=str(hook["working_dir"]) if hook.get("working_dir") else None,
                    environment={str(k): str(v) for k, v in env.items()},
                )
            )
    return tuple(hooks)


def pin_watch_paths(config: Mapping[str, Any], resolve: PathResolver) -> dict[str, Any]:
    """``config`` with every watched path replaced by the real path that was judged, so a
    symlink swapped after the check changes nothing."""
    services = {}
    for name, service in (config.get("services") or {}).items():
        develop = (service or {}).get("develop") or {}
        if develop.get("watch"):
            watch = [
                {**t, "path": resolve(str(t["path"])).real_path}
                if isinstance(t, Mapping) and t.get("path")
                else t
                for t in develop["watch"]
            ]
            service = {**service, "develop": {**develop, "watch": watch}}
        services[name] = service
    return {**config, "services": services}
