"""Blocking pieces of the container event feed: open the stream, read one event, take a
fingerprint of watched containers and projects (run in worker threads)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import docker
import docker.errors

from mcp_docker_server.config.settings import EngineTarget
from mcp_docker_server.engine._catalog_sync import PROJECT_LABEL
from mcp_docker_server.engine.connect import open_client
from mcp_docker_server.engine.errors import translate_docker_errors
from mcp_docker_server.engine.event_types import LIFECYCLE_ACTIONS, ContainerEvent
from mcp_docker_server.policy import label_matches
from mcp_docker_server.results import shaping

Raw = dict[str, Any]


class Stream:
    """One open ``GET /events`` on a client of its own (closing it unblocks a pending read)."""

    def __init__(self, target: EngineTarget, since: str | None, scope_label: str | None) -> None:
        filters: dict[str, list[str]] = {"type": ["container"], "event": sorted(LIFECYCLE_ACTIONS)}
        if scope_label:
            # Containers outside the operator's scope never reach a subscriber.
            filters["label"] = [scope_label]
        with translate_docker_errors(target.host, "engine"):
            self.client = open_client(target)
            try:
                api: Any = self.client.api  # docker-py's stubs take no fractional "since"
                self._stream = api.events(since=since, filters=filters, decode=True)
            except BaseException:
                self.client.close()
                raise
        self._host = target.host
        self._scope_label = scope_label
        self._events: Iterator[Raw] = iter(self._stream)

    def next(self) -> ContainerEvent | None:
        """The next event; None when the engine ended the stream (it went away).

        Raises:
            DockerServerError: the connection failed mid-read.
        """
        with translate_docker_errors(self._host, "engine"):
            for raw in self._events:
                event = parse_event(raw)
                if event is not None:
                    return event
        return None

    def close(self) -> None:
        """Shut the stream and its client; safe from any thread, more than once."""
        with contextlib.suppress(Exception):  # a dead connection may fail to close
            self._stream.close()
        with contextlib.suppress(Exception):
            self.client.close()

    def fingerprints(self, containers: Iterable[str], projects: Iterable[str]) -> dict[str, str]:
        """What each watched container (``c:<ref>``) and project (``p:<name>``) looks like now.

        A restart in a gap changes the start time, so it shows even when the state is the same.
        """
        api: Any = self.client.api
        out: dict[str, str] = {}
        with translate_docker_errors(self._host, "engine"):
            for ref in containers:
                try:
                    raw: Raw = api.inspect_container(ref)
                except docker.errors.NotFound:
                    out[f"c:{ref}"] = "gone"
                    continue
                labels = (raw.get("Config") or {}).get("Labels")
                in_scope = not self._scope_label or label_matches(self._scope_label, labels)
                # Outside the scope it looks the same whatever happens: nothing is ever told.
                out[f"c:{ref}"] = _container_print(raw) if in_scope else "out of scope"
            for project in projects:
                wanted = [f"{PROJECT_LABEL}={project}", *([self._scope_label] if self._scope_label else [])]
                rows = api.containers(all=True, filters={"label": wanted})
                out[f"p:{project}"] = "|".join(
                    sorted(f"{r.get('Id')}:{r.get('State')}:{r.get('Status')}" for r in rows)
                )
        return out


def parse_event(raw: Raw) -> ContainerEvent | None:
    """A container lifecycle event, or None for anything else."""
    if raw.get("Type") != "container":
        return None
    action = str(raw.get("Action") or "")
    if action.split(":", 1)[0] not in LIFECYCLE_ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    stamp = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    return ContainerEvent(
        id=str(actor.get("ID") or raw.get("id") or ""),
        name=shaping.clean_text(str(attributes.get("name") or "")),
        action=shaping.clean_text(action.replace("health_status: ", "")),
        project=shaping.clean_text(str(attributes.get(PROJECT_LABEL) or "")) or None,
        time_nano=stamp,
    )


def _container_print(raw: Raw) -> str:
    state = raw.get("State") or {}
    health = (state.get("Health") or {}).get("Status", "")
    return (
        f"{raw.get('Id')}:{state.get('Status')}:{health}:{state.get('StartedAt')}:{raw.get('RestartCount')}"
    )
