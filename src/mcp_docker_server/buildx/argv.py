"""The argv of a BuildKit build (pure): `docker buildx build` with every option the request
asked for, and nothing the policy has not judged (policy/builds.py judged secrets, ssh, the
network and caches before this runs)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from mcp_docker_server.specs.images import BuildSpec

__all__ = ["build_argv"]


def build_argv(spec: BuildSpec, iidfile: Path) -> list[str]:
    """``docker buildx build ...`` for ``spec`` (context, Dockerfile and secret files are the
    resolved paths the host-path rule returned). The image id is written to ``iidfile``.

    Progress goes to stderr as rawjson (one JSON object a line, buildx >= 0.17); the image is
    loaded into the engine (``--load``) unless ``spec.load`` is false, when only the build cache
    keeps the result (``--output type=cacheonly``).
    """
    argv = ["docker", "buildx", "build", "--progress=rawjson", "--iidfile", str(iidfile)]
    argv += ["--tag", spec.tag]
    argv += _pairs("--build-arg", spec.build_args) + _pairs("--label", spec.labels)
    flags = {"--file": spec.dockerfile, "--target": spec.target, "--platform": spec.platform}
    for flag, value in flags.items():
        if value:
            argv += [flag, value]
    argv += ["--no-cache"] * spec.no_cache + ["--pull"] * spec.pull
    for secret in spec.secrets:
        source = "src" if secret.kind == "file" else "env"
        # buildx reads the value as CSV: each field quoted where it needs it, so that a comma
        # in a path cannot add a field of its own.
        argv += ["--secret", _csv(f"id={secret.id}", f"{source}={secret.source}")]
    argv += ["--ssh", "default"] * spec.ssh
    if spec.network:
        argv += ["--network", spec.network]
        argv += ["--allow", "network.host"] * (spec.network == "host")
    argv += [a for entry in spec.cache_from for a in ("--cache-from", entry)]
    argv += [a for entry in spec.cache_to for a in ("--cache-to", entry)]
    argv += ["--load"] if spec.load else ["--output", "type=cacheonly"]
    # "--" ends the options: a context folder named like an option stays a folder.
    return [*argv, "--", spec.path]


def _csv(*fields: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _pairs(flag: str, values: Mapping[str, str]) -> list[str]:
    return [a for key, value in values.items() for a in (flag, f"{key}={value}")]
