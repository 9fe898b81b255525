"""The application's state: the engines this server drives, each with its connection, settings
and operator policy, and the resolver of host paths on this machine. Every layer above the
engine (tools, resources, prompts, completions, live updates) works on these."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field, replace
from functools import cached_property

from mcp_docker_server.buildx import Buildx
from mcp_docker_server.compose import ComposeRunner, compose_env
from mcp_docker_server.compose.watch import WatchManager
from mcp_docker_server.config.settings import Settings
from mcp_docker_server.engine import Admission, Containers, Engine, Images, Networks, Swarm, System, Volumes
from mcp_docker_server.engine.ports import (
    AdmissionPort,
    ContainersPort,
    ImagesPort,
    NetworksPort,
    SwarmPort,
    SystemPort,
    VolumesPort,
)
from mcp_docker_server.errors import DockerServerError, InvalidArgument
from mcp_docker_server.policy import (
    PathInfo,
    PathResolver,
    Policy,
    lexical_resolver,
)

__all__ = ["AppState", "EngineSet", "Facades", "local_read_resolver", "local_resolver"]

# How much of a folder is searched for sockets before a bind of it is admitted: enough for the
# places sockets live (a runtime folder, a project's tmp), bounded for big project trees.
_SOCKET_SCAN_ENTRIES = 5000
_SOCKET_SCAN_DEPTH = 4


def local_resolver(path: str, *, scan_sockets: bool = True) -> PathInfo:
    """Resolve a host path on this machine: symlinks, ``..``, doubled and trailing slashes; say
    whether it is a socket, exists, or (for a folder) holds a socket within the first
    5,000 entries and 4 levels. A path that cannot be resolved (a ``/proc`` magic link, a
    loop, no permission) carries the reason instead."""
    try:
        real = os.path.realpath(path, strict=False)
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return PathInfo(real_path=os.path.realpath(path), is_socket=False, exists=False)
    except (OSError, ValueError) as exc:
        return PathInfo(
            real_path=os.path.normpath("/" + path.lstrip("/")),
            is_socket=False,
            error=exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__,
        )
    held = _socket_inside(real) if scan_sockets and stat.S_ISDIR(mode) else None
    return PathInfo(real_path=real, is_socket=stat.S_ISSOCK(mode), holds_socket=held)


def local_read_resolver(path: str) -> PathInfo:
    """:func:`local_resolver` for paths only read here (build contexts, Dockerfiles, compose
    files, lint targets): a folder's sockets are never sent, so it is not searched for them."""
    return local_resolver(path, scan_sockets=False)


def _socket_inside(folder: str) -> str | None:
    """The first socket under ``folder`` (links not followed), within the scan bounds."""
    seen = 0
    base_depth = folder.rstrip("/").count("/")
    for root, dirs, files in os.walk(folder, followlinks=False, onerror=None):
        if root.count("/") - base_depth >= _SOCKET_SCAN_DEPTH:
            dirs.clear()
        for name in files:
            seen += 1
            full = os.path.join(root, name)
            try:
                if stat.S_ISSOCK(os.lstat(full).st_mode):
                    return full
            except OSError:
                continue
            if seen >= _SOCKET_SCAN_ENTRIES:
                return None
    return None


@dataclass(frozen=True)
class Facades:
    """Stand-ins for the engine facades, each optional (tests give the tools fakes through the
    seam ``engine.ports``; what is not given is the real facade)."""

    admission: AdmissionPort | None = None
    containers: ContainersPort | None = None
    images: ImagesPort | None = None
    networks: NetworksPort | None = None
    volumes: VolumesPort | None = None
    swarm: SwarmPort | None = None
    system: SystemPort | None = None


@dataclass
class AppState:
    """What a call on one engine needs: settings, the engine, and the policy that governs it."""

    settings: Settings
    engine: Engine
    policy: Policy
    name: str = "default"
    facades: Facades = field(default_factory=Facades)

    def __post_init__(self) -> None:
        # The host path rule keeps binds, builds and scans away from the server's own files.
        own = tuple(f for f in self.settings.own_files if f not in self.policy.protected_paths)
        if own:
            self.policy = replace(self.policy, protected_paths=(*self.policy.protected_paths, *own))

    async def learn_engine_root(self) -> None:
        """Add the engine's data root (`docker info` DockerRootDir) to the policy, once: a bind
        or build of it would hand out every container's files. A failure leaves it for the
        next call (the call itself reports an unreachable engine)."""
        if self.policy.engine_data_root is not None:
            return
        with contextlib.suppress(DockerServerError):
            root = await self.system.data_root()
            self.policy = replace(self.policy, engine_data_root=root or "")

    @property
    def admission(self) -> AdmissionPort:
        """The engine's own descriptions of what it runs, for the guard to judge."""
        return self.facades.admission or Admission(self.engine)

    @property
    def containers(self) -> ContainersPort:
        """Container operations on the engine."""
        return self.facades.containers or Containers(self.engine)

    @property
    def networks(self) -> NetworksPort:
        """Network operations on the engine."""
        return self.facades.networks or Networks(self.engine)

    @property
    def volumes(self) -> VolumesPort:
        """Volume operations on the engine."""
        return self.facades.volumes or Volumes(self.engine)

    @property
    def images(self) -> ImagesPort:
        """Image operations on the engine."""
        return self.facades.images or Images(self.engine)

    @property
    def swarm(self) -> SwarmPort:
        """The swarm this engine belongs to."""
        return self.facades.swarm or Swarm(self.engine)

    @property
    def system(self) -> SystemPort:
        """Engine-wide operations."""
        return self.facades.system or System(self.engine)

    @cached_property
    def compose(self) -> ComposeRunner:
        """Compose, pointed at the same engine."""
        return ComposeRunner(self._cli_env)

    @cached_property
    def compose_isolated(self) -> ComposeRunner:
        """Compose with none of the server's environment variables but what it needs to run
        (PATH, HOME, locale, the engine's) and those ``secret_env_allowlist`` names: for a
        render whose values are shown (kubernetes-export), where ``${VAR}`` must not print
        the server's variables."""
        kept = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "SSH_AUTH_SOCK")
        env = {
            k: v
            for k, v in self._cli_env.items()
            if k in kept or k.startswith(("DOCKER_", "COMPOSE_")) or k in self.policy.secret_env_allowlist
        }
        return ComposeRunner(env)

    @cached_property
    def buildx(self) -> Buildx:
        """buildx, pointed at the same engine and at that engine's own builder (named after
        the docker context, "default" for an address)."""
        source = self.engine.target.source
        builder = source.removeprefix("context ") if source.startswith("context ") else "default"
        return Buildx(self._cli_env, builder)

    @cached_property
    def watches(self) -> WatchManager:
        """The `docker compose watch` processes the server runs on this engine."""
        return WatchManager(self.compose, self._cli_env)

    @cached_property
    def _cli_env(self) -> dict[str, str]:
        return compose_env(self.engine.target, self.settings.docker_config, os.environ)

    @property
    def resolver(self) -> PathResolver:
        """Host paths are resolved on this machine only when the engine runs here too; for a
        remote engine they can only be normalised (its symlinks are out of sight)."""
        return local_resolver if self.engine.target.scheme == "unix" else lexical_resolver


class EngineSet:
    """The engines this server drives, by name, and the one read calls use by default."""

    def __init__(self, states: list[AppState], default: str) -> None:
        self.states = {state.name: state for state in states}
        self.default = default

    @property
    def several(self) -> bool:
        """More than one engine: mutating calls must name theirs."""
        return len(self.states) > 1

    @property
    def names(self) -> list[str]:
        """Engine names in the operator's order."""
        return list(self.states)

    def get(self, name: str | None) -> AppState:
        """The engine called ``name`` (the default one for None).

        Raises:
            InvalidArgument: no engine has that name.
        """
        state = self.states.get(name or self.default)
        if state is None:
            raise InvalidArgument(
                f"no engine is called {name!r}", hint=f"engines here: {', '.join(self.states)}."
            )
        return state

    def policy_for(self, name: str | None) -> Policy | None:
        """The policy of engine ``name``, or None when there is no such engine."""
        state = self.states.get(name or self.default)
        return state.policy if state else None

    async def any_swarm_manager(self) -> bool | None:
        """Whether any engine is a swarm manager (None when none of them could say)."""
        said = False
        for state in self.states.values():
            with contextlib.suppress(DockerServerError):
                status = await state.swarm.status(show_tokens=False, with_nodes=False)
                if status.manager:
                    return True
                said = True
        return False if said else None

    def close(self) -> None:
        """Close every engine connection."""
        for state in self.states.values():
            state.engine.close()
