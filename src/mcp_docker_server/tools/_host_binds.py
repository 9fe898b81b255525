"""The host folders containers mount, on every engine that shares a host: what the nested-bind
rule (``allow_nested_binds``) compares a path with.

A container can plant a link in any folder it mounts read-write, and whatever the engine,
Compose or buildx reads later under that folder follows it. The writers of a folder on this
machine are the containers of every engine configured here with a unix socket (they all run
on this machine's filesystem), not only those of the engine a call names.
"""

from __future__ import annotations

import anyio

from mcp_docker_server.errors import DockerServerError
from mcp_docker_server.policy.admission import Bind
from mcp_docker_server.state import AppState, EngineSet

__all__ = ["HostBinds"]

# How long the containers of another engine on this host are waited for: a hung engine must
# not hold every bind on the others for the whole DOCKER_TIMEOUT.
NEIGHBOUR_TIMEOUT = 10.0


class HostBinds:
    """The mounts of the containers of the engines this server drives, by host."""

    def __init__(self, engines: EngineSet) -> None:
        self.engines = engines

    def watched_folders(self) -> tuple[tuple[str, str], ...]:
        """Every folder a watch of this server syncs, on any engine: Compose reads them on this
        machine whichever engine the watch drives. (folder, project)."""
        return tuple(f for state in self.engines.states.values() for f in state.watches.synced_folders())

    def neighbours(self, state: AppState, *, read_here: bool) -> list[AppState]:
        """The other engines whose containers mount folders of the host ``state``'s engine
        reads (or, ``read_here``, of this machine): the unix-socket engines configured besides
        it, which all run on this machine. None for an engine elsewhere (its host is not ours).
        The same address configured twice is one engine, listed once."""
        local = state.engine.target.scheme == "unix"
        if not local and not read_here:
            return []
        seen = {state.engine.target.host} if local else set()
        found = []
        for other in self.engines.states.values():
            target = other.engine.target
            if other is not state and target.scheme == "unix" and target.host not in seen:
                seen.add(target.host)
                found.append(other)
        return found

    async def neighbour_binds(
        self, state: AppState, *, read_here: bool = False
    ) -> tuple[tuple[Bind, ...], tuple[str, ...]]:
        """The host folders the containers of the other engines on the same host mount (see
        :meth:`neighbours`), each container named with its engine; and the engines that could
        not be listed, with the reason. One listing per engine, none at all when the policy
        opens nested binds.

        An engine that does not answer (within 10 s) is not skipped: it may still run
        containers (live-restore keeps them running without the daemon), so the nested-bind
        rule refuses what it cannot clear, naming that engine (fail closed). Only calls that
        judge a host path are refused, and only while several engines are configured: a
        single engine never meets this.
        """
        if state.policy.allow_nested_binds:
            return (), ()
        found: list[Bind] = []
        unlisted: list[str] = []
        for other in self.neighbours(state, read_here=read_here):
            why = f"no answer within {NEIGHBOUR_TIMEOUT:g} s"
            listed = None
            try:
                with anyio.move_on_after(NEIGHBOUR_TIMEOUT):
                    listed = await other.admission.bind_sources()
            except DockerServerError as exc:
                why = exc.message
            if listed is None:
                unlisted.append(f"engine {other.name} ({other.engine.target.display}): {why}")
                continue
            found.extend((source, rw, f"{name} (engine {other.name})") for source, rw, name in listed)
        return tuple(found), tuple(unlisted)

    async def host_binds(
        self, state: AppState, *, read_here: bool = False
    ) -> tuple[tuple[Bind, ...], tuple[str, ...]]:
        """The host folders containers mount, and the engines that could not be listed (see
        :meth:`neighbour_binds`). Without ``read_here``: for a path ``state``'s engine reads
        (a bind, a secret file), the containers of that engine and of the other engines on its
        host. With ``read_here``: for a path this machine reads (a build context, a Dockerfile,
        a cache, a watched folder), the containers of every engine on this machine (resolve
        their sources on this machine).

        Raises:
            DockerServerError: ``state``'s own engine could not list its containers.
        """
        if state.policy.allow_nested_binds:
            return (), ()
        own: tuple[Bind, ...] = ()
        if state.engine.target.scheme == "unix" or not read_here:
            own = await state.admission.bind_sources()
        extra, unlisted = await self.neighbour_binds(state, read_here=read_here)
        return (*own, *extra), unlisted
