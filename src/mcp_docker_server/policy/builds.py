"""What a build may reach beyond its context: secrets, the SSH agent, the host's network and
build caches. One set of rules for build-image and for Compose builds (pure).

BuildKit hands a build step only what the build request names: a secret is a file or a variable
of the process that runs buildx (this server's), ``ssh`` is this server's agent, ``network=host``
is the host's network namespace, and a cache is a host folder or a registry. Each is judged here.
"""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_docker_server.errors import InvalidArgument, PolicyDenied
from mcp_docker_server.policy.containers import check_image
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.policy.paths import check_host_path

__all__ = [
    "PRIVATE_VARIABLES",
    "CacheEntry",
    "ComposeBuild",
    "check_build_name",
    "check_build_network",
    "check_frontend",
    "check_build_ssh",
    "check_secret_env",
    "compose_builds",
    "judge_cache",
    "parse_cache",
]

# The server's own secrets: never in Compose's environment, a build or a container, whatever
# the allowlist says.
PRIVATE_VARIABLES = frozenset({"MCP_DOCKER_HTTP_TOKEN", "REGISTRY_PASSWORD"})
# Cache backends that stay on this host or go to a registry the engine already reaches; gha,
# s3 and azblob would carry this server's cloud credentials to a service.
_CACHE_TYPES = frozenset({"local", "registry", "inline"})


@dataclass(frozen=True)
class CacheEntry:
    """One ``cache_from``/``cache_to`` entry, parsed like buildx (util/buildflags/cache.go):
    CSV fields ``key=value`` in any order, keys case-folded; a bare value is a registry ref."""

    type: str
    attrs: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        """The value of attribute ``key``, or None."""
        return next((v for k, v in self.attrs if k == key), None)

    def render(self) -> str:
        """The entry as buildx reads it (a CSV line; quoting only where a value needs it)."""
        fields = [("type", self.type), *self.attrs]
        return ",".join(_csv_field(f"{k}={v}") for k, v in fields)


def check_build_ssh(policy: Policy, where: str) -> None:
    """SSH agent forwarding into build steps (``--ssh default``, Compose ``build.ssh``).

    Raises:
        PolicyDenied: unless ``allow_build_ssh`` (or, for Compose, ``build.ssh`` in
            ``allow_compose_keys``).
    """
    if policy.allow_build_ssh or "build.ssh" in policy.allow_compose_keys:
        return
    raise PolicyDenied(
        "build-ssh",
        f"{where}: ssh forwards this server's SSH agent (and so its keys) into build steps",
        hint="build without it, or give the build a deploy key as a secret.",
        setting="allow_build_ssh = true",
    )


def check_build_network(policy: Policy, network: str | None, where: str) -> str | None:
    """The network build steps run on: default, none, or host (the host's namespace).

    Returns:
        The mode as buildx spells it, or None for the default.

    Raises:
        InvalidArgument: an unknown mode.
        PolicyDenied: host, unless ``allow_build_host_network`` (or, for Compose,
            ``build.network`` in ``allow_compose_keys``).
    """
    mode = (network or "").strip().lower()
    if mode in ("", "default"):
        return None
    if mode == "none":
        return mode
    if mode != "host":
        raise InvalidArgument(
            f"{where}: build network {network!r} is not one BuildKit knows.",
            hint="use default, none or host.",
        )
    if policy.allow_build_host_network or "build.network" in policy.allow_compose_keys:
        return mode
    raise PolicyDenied(
        "build-network",
        f"{where}: network host runs build steps in the host's network namespace",
        hint="use the default network.",
        setting="allow_build_host_network = true",
    )


def check_secret_env(policy: Policy, variable: str, where: str) -> None:
    """A secret read from one of this server's environment variables.

    Raises:
        PolicyDenied: the variable is not in ``secret_env_allowlist``, or is one of the server's
            own secrets (never handed out).
    """
    name = variable.strip()
    if name in PRIVATE_VARIABLES:
        raise PolicyDenied(
            "secret-env",
            f"{where}: {name} is this server's own secret and never goes into a build or container",
            hint="give the secret as a file.",
        )
    if name in policy.secret_env_allowlist:
        return
    raise PolicyDenied(
        "secret-env",
        f"{where}: the server's environment variable {name} is not one the operator lets secrets read",
        hint="give the secret as a file in the project, or ask the operator to list the variable.",
        setting=f'secret_env_allowlist = ["{name}"]',
    )


def parse_cache(entry: str, where: str) -> CacheEntry:
    """Parse one cache entry (buildx syntax; a bare value is ``type=registry,ref=<value>``).

    Raises:
        InvalidArgument: the entry has no type or a field without ``=``.
    """
    fields = next(csv.reader([entry], skipinitialspace=True), [])
    if len(fields) == 1 and "=" not in fields[0]:
        return CacheEntry("registry", (("ref", fields[0].strip()),))
    kind, attrs = "", []
    for field in fields:
        key, sep, value = field.strip().partition("=")
        if not sep:
            raise InvalidArgument(
                f"{where}: cache entry {entry!r} has a field without '=' ({field!r}).",
                hint='write it as buildx does: "type=local,src=/path" or "type=registry,ref=host/app:cache".',
            )
        key = key.strip().lower()
        if key == "type":
            kind = value.strip().lower()
        else:
            attrs.append((key, value.strip()))
    if not kind:
        raise InvalidArgument(
            f"{where}: cache entry {entry!r} has no type.",
            hint="add type=local, type=registry or type=inline.",
        )
    return CacheEntry(kind, tuple(attrs))


def judge_cache(
    policy: Policy,
    entries: Sequence[str],
    resolve: PathResolver,
    where: str,
    *,
    export: bool,
    base: str = "/",
) -> list[CacheEntry]:
    """Judge ``cache_from`` (``export`` false) or ``cache_to`` entries: a known backend, its host
    folder through the host-path rule (read for an import, written for an export), resolved. A
    relative ``src``/``dest`` is taken from ``base`` (build-image: the context folder).

    Returns:
        The entries with their host folders replaced by the resolved real paths.

    Raises:
        InvalidArgument: a malformed entry.
        PolicyDenied: an unknown backend, or a folder the host-path rule refuses.
    """
    judged = []
    for raw in entries:
        entry = parse_cache(raw, where)
        if entry.type not in _CACHE_TYPES:
            raise PolicyDenied(
                "build-cache",
                f"{where}: cache type {entry.type!r} is not one this server knows "
                f"({', '.join(sorted(_CACHE_TYPES))}); it may carry credentials to an outside service",
                hint="use a local folder or a registry.",
            )
        attrs = []
        for key, value in entry.attrs:
            if key in ("src", "dest"):
                purpose = "build cache export" if export else "build cache"
                try:
                    full = posixpath.join(base, value)  # an absolute value stays as it is
                    value = check_host_path(policy, full, resolve, purpose=purpose, mounted=False)
                except PolicyDenied as exc:
                    raise PolicyDenied(
                        exc.rule, f"{where}: {exc.reason}", hint=exc.hint, setting=exc.setting
                    ) from exc
            attrs.append((key, value))
        judged.append(CacheEntry(entry.type, tuple(attrs)))
    return judged


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _allowed(policy: Policy, image: str) -> bool:
    try:
        check_image(policy, image)
    except PolicyDenied:
        return False
    return True


def check_build_name(policy: Policy, name: str, sources: Sequence[str]) -> None:
    """A name a build or a tag gives an image made from ``sources`` (the image tagged, or the
    images a build takes files from: FROM, ``COPY --from``, ``RUN --mount=from=``): under
    ``image_allowlist`` an allowed name may only go to an image made from allowed ones, or a
    build would launder any image into the allowlist.

    Raises:
        PolicyDenied: rule ``image-allowlist``, naming the source and the name.
    """
    if not policy.image_allowlist or not _allowed(policy, name):
        return
    for source in sources:
        if "$" in source or not _allowed(policy, source):
            raise PolicyDenied(
                "image-allowlist",
                f"{name} would be an allowed name for an image made from {source}, which is "
                f"not in the allowed images ({', '.join(policy.image_allowlist)})",
                hint="start from an allowed image, named as the allowlist names it.",
                setting="image_allowlist",
            )


def check_frontend(policy: Policy, image: str) -> None:
    """A frontend image (``# syntax=``, ``BUILDKIT_SYNTAX``) runs inside BuildKit and decides
    what the build does: under an image allowlist, it must be an allowed image.

    Raises:
        PolicyDenied: naming the frontend and the policy key.
    """
    if not policy.image_allowlist:
        return
    try:
        check_image(policy, image)
    except PolicyDenied as exc:
        raise PolicyDenied(
            exc.rule,
            f"the Dockerfile's frontend {image} (`# syntax=` or BUILDKIT_SYNTAX) is not an allowed image",
            hint="remove the `# syntax=` line: the built-in frontend needs no image.",
            setting=exc.setting,
        ) from exc


@dataclass(frozen=True)
class ComposeBuild:
    """One local build of a rendered Compose project, as the image rules see it: the Dockerfile
    (its text inline, or its absolute path to read), build args, the names the build gives
    (``image`` or ``<project>-<service>``, and ``build.tags``) and images it takes files from
    besides its Dockerfile's (``docker-image://`` additional contexts)."""

    service: str
    dockerfile_text: str
    dockerfile_path: str
    args: tuple[tuple[str, str], ...]
    names: tuple[str, ...]
    context_images: tuple[str, ...]


def compose_builds(config: Mapping[str, Any], project: str) -> list[ComposeBuild]:
    """The local builds of a rendered project (``config``: Compose's ``config --format json``),
    as Compose names and runs them (compose-go ``types.BuildConfig``)."""
    found = []
    for name, service in (config.get("services") or {}).items():
        build = (service or {}).get("build")
        if not isinstance(build, Mapping):
            continue
        text = str(build.get("dockerfile_inline") or "")
        context = str(build.get("context") or "")
        dockerfile = str(build.get("dockerfile") or "Dockerfile")
        path = ""
        if not text and context.startswith("/"):
            path = dockerfile if dockerfile.startswith("/") else posixpath.join(context, dockerfile)
        found.append(
            ComposeBuild(
                service=str(name),
                dockerfile_text=text,
                dockerfile_path=path,
                args=tuple((str(k), str(v)) for k, v in (build.get("args") or {}).items() if v is not None),
                names=(str(service.get("image") or f"{project}-{name}"), *map(str, build.get("tags") or [])),
                context_images=tuple(
                    str(v).removeprefix("docker-image://")
                    for v in (build.get("additional_contexts") or {}).values()
                    if str(v).startswith("docker-image://")
                ),
            )
        )
    return found
