"""Which engines' containers the nested-bind rule lists (tools/_host_binds.py): every engine on
this machine (unix sockets) shares its folders; an engine elsewhere does not; the same socket
configured twice is listed once; an engine that cannot be listed is named (fail closed) and
never raises; a policy that opens nested binds lists nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.engine import Engine
from mcp_docker_server.engine._admission_sync import ProjectResources
from mcp_docker_server.errors import EngineUnavailable
from mcp_docker_server.policy import Policy
from mcp_docker_server.policy.admission import Bind, ContainerDescription, NetworkInfo, VolumeInfo
from mcp_docker_server.state import AppState, EngineSet, Facades
from mcp_docker_server.tools._host_binds import HostBinds

pytestmark = pytest.mark.anyio


@dataclass
class Listing:
    """An AdmissionPort whose only answer is its containers' binds (or a failure)."""

    binds: tuple[Bind, ...] = ()
    fails: bool = False
    calls: list[str] = field(default_factory=list)

    async def bind_sources(self) -> tuple[Bind, ...]:
        self.calls.append("bind_sources")
        if self.fails:
            raise EngineUnavailable("Cannot connect to the engine: connection refused.")
        return self.binds

    async def container(self, ref: str) -> ContainerDescription:
        raise AssertionError("not used here")

    async def service(
        self, ref: str, *, previous: bool = False
    ) -> tuple[str, dict[str, Any], list[str], dict[str, VolumeInfo], dict[str, NetworkInfo]]:
        raise AssertionError("not used here")

    async def project(self, project: str) -> ProjectResources:
        raise AssertionError("not used here")

    async def project_containers(
        self, project: str, services: Iterable[str], built_images: frozenset[str]
    ) -> list[ContainerDescription]:
        raise AssertionError("not used here")

    async def remove(self, made: ProjectResources) -> None:
        raise AssertionError("not used here")


def engine(name: str, host: str, listing: Listing, policy: Policy | None = None) -> AppState:
    settings = load_settings({"DOCKER_HOST": host})
    return AppState(
        settings, Engine(settings.engine), policy or Policy(), name=name, facades=Facades(admission=listing)
    )


def rig(*states: AppState) -> HostBinds:
    return HostBinds(EngineSet(list(states), states[0].name))


async def test_every_engine_on_this_machine_is_listed_once_and_named() -> None:
    main = engine("main", "unix:///run/a.sock", Listing((("/srv", True, "own"),)))
    second = engine("second", "unix:///run/b.sock", Listing((("/srv/app", True, "w"),)))
    again = engine("again", "unix:///run/b.sock", Listing((("/srv/app", True, "w"),)))
    remote = engine("remote", "tcp://127.0.0.1:2375", Listing((("/srv/app", True, "far"),)))
    hosts = rig(main, second, again, remote)
    assert [s.name for s in hosts.neighbours(main, read_here=False)] == ["second"]
    assert await hosts.host_binds(main) == (
        (("/srv", True, "own"), ("/srv/app", True, "w (engine second)")),
        (),
    )
    # An engine reached over TCP (even on loopback, as for the path resolver) is elsewhere: it
    # shares nothing with this machine, except for what this machine reads.
    assert hosts.neighbours(remote, read_here=False) == []
    assert [s.name for s in hosts.neighbours(remote, read_here=True)] == ["main", "second"]
    binds, _ = await hosts.host_binds(remote, read_here=True)
    assert ("/srv/app", True, "far") not in binds
    assert ("/srv", True, "own (engine main)") in binds


async def test_an_engine_that_cannot_be_listed_is_named_not_raised() -> None:
    main = engine("main", "unix:///run/a.sock", Listing())
    gone = engine("gone", "unix:///run/gone.sock", Listing(fails=True))
    hosts = rig(main, gone)
    binds, unlisted = await hosts.host_binds(main)
    assert binds == ()
    assert len(unlisted) == 1
    assert unlisted[0].startswith("engine gone (unix:///run/gone.sock): Cannot connect")


async def test_a_policy_that_opens_nested_binds_lists_nothing() -> None:
    listing = Listing((("/srv", True, "w"),))
    main = engine("main", "unix:///run/a.sock", listing, replace(Policy(), allow_nested_binds=True))
    hosts = rig(main, engine("second", "unix:///run/b.sock", listing))
    assert await hosts.host_binds(main) == ((), ())
    assert listing.calls == []
