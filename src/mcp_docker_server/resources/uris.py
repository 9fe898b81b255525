"""The ``docker://`` resource URI scheme. Pure: parsing, building, and matching events.

    docker://engine/info                          engine facts (docker info + version)
    docker://containers/{container}/inspect       compact inspect (env values hidden)
    docker://containers/{container}/logs          last lines, bounded, delimited as untrusted
    docker://containers/{container}/stats         one resource sample
    docker://images/{+image}                      image inspect (the reference keeps its / and :)
    docker://networks/{network}                   network inspect
    docker://volumes/{volume}                     volume inspect
    docker://compose/{project}                    a Compose project's containers and states

Queries: ``?tail=N`` on logs (1..1000, default 100); ``?engine=NAME`` on every URI when several
engines are configured (the default engine otherwise). A container may be named by name or id.
Container and compose URIs are subscribable: they change when a container starts, stops, dies,
restarts, is OOM-killed, changes health or is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = [
    "CONTAINER_VIEWS",
    "DEFAULT_TAIL",
    "Target",
    "engine_query",
    "event_matches",
    "parse",
    "template",
    "uri",
]

Kind = Literal["container", "image", "network", "volume", "compose", "engine"]
CONTAINER_VIEWS = ("inspect", "logs", "stats")
DEFAULT_TAIL = 100
MAX_TAIL = 1000
_COLLECTIONS: dict[str, Kind] = {
    "containers": "container",
    "images": "image",
    "networks": "network",
    "volumes": "volume",
    "compose": "compose",
    "engine": "engine",
}


@dataclass(frozen=True)
class Target:
    """What a ``docker://`` URI names."""

    kind: Kind
    name: str = ""  # container ref, image ref, network, volume or project; "" for the engine
    view: str = ""  # containers: inspect, logs or stats
    engine: str | None = None
    tail: int = DEFAULT_TAIL

    @property
    def subscribable(self) -> bool:
        """Whether lifecycle events can change what this URI shows."""
        return self.kind in ("container", "compose")


def template(kind: Kind, view: str = "", *, several_engines: bool) -> str:
    """The RFC 6570 template a client fills in (``{?engine}`` only with several engines)."""
    engine = ["engine"] if several_engines else []
    if kind == "container":
        query = ["tail", *engine] if view == "logs" else engine
        base = f"docker://containers/{{container}}/{view}"
    elif kind == "image":
        query, base = engine, "docker://images/{+image}"
    elif kind == "engine":
        query, base = engine, "docker://engine/info"
    else:
        collection = "compose" if kind == "compose" else f"{kind}s"
        query, base = engine, f"docker://{collection}/{{{'project' if kind == 'compose' else kind}}}"
    return base + (f"{{?{','.join(query)}}}" if query else "")


def engine_query(engine: str | None) -> str:
    """``?engine=NAME``, or nothing for the default engine."""
    return f"?engine={quote(engine, safe='')}" if engine else ""


def uri(kind: Kind, name: str = "", view: str = "", engine: str | None = None) -> str:
    """The URI of one resource (the inverse of :func:`parse`)."""
    if kind == "engine":
        return "docker://engine/info" + engine_query(engine)
    if kind == "container":
        return f"docker://containers/{quote(name, safe='')}/{view}" + engine_query(engine)
    collection = "compose" if kind == "compose" else f"{kind}s"
    safe = "/:@" if kind == "image" else ""
    return f"docker://{collection}/{quote(name, safe=safe)}" + engine_query(engine)


def parse(text: str) -> Target | None:
    """The target of a ``docker://`` URI, or None when it is not one of ours."""
    parts = urlsplit(text)
    kind = _COLLECTIONS.get(parts.netloc)
    if parts.scheme != "docker" or kind is None or parts.fragment:
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"engine", "tail"} or any(len(v) != 1 for v in query.values()):
        return None
    engine = query.get("engine", [None])[0] or None
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    if kind == "engine":
        return Target("engine", engine=engine) if segments == ["info"] and "tail" not in query else None
    if kind == "image":
        name = unquote(parts.path[1:])
        return Target("image", name, engine=engine) if name and "tail" not in query else None
    if kind == "container":
        if len(segments) != 2 or not segments[0] or segments[1] not in CONTAINER_VIEWS:
            return None
        tail = _tail(query.get("tail", [None])[0]) if segments[1] == "logs" else DEFAULT_TAIL
        if tail is None or ("tail" in query and segments[1] != "logs"):
            return None
        return Target("container", segments[0], segments[1], engine, tail)
    if len(segments) != 1 or not segments[0] or "tail" in query:
        return None
    return Target(kind, segments[0], engine=engine)


def event_matches(target: Target, container_id: str, name: str, project: str | None) -> bool:
    """Whether an event about a container concerns what ``target`` shows.

    A container is named the way docker accepts it: by name, by full id or by an id prefix.
    """
    if target.kind == "compose":
        return project is not None and project == target.name
    if target.kind != "container":
        return False
    ref = target.name.lstrip("/")
    # An id prefix only when it could be one: a name such as "abc" is no prefix of an id.
    is_hex = bool(ref) and all(c in "0123456789abcdef" for c in ref)
    return ref == name or (is_hex and container_id.startswith(ref))


def _tail(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_TAIL
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TAIL:
        return None
    return int(raw)
