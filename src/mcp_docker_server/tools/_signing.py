"""Registry reads and signatures the guard and image-security share: digests of references,
`cosign verify`, and the operator's require_signature rule (tools layer: it needs the engine
and the process runner)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from mcp_docker_server.engine.images_fs import ImageContents
from mcp_docker_server.errors import DockerServerError, InvalidArgument, NotFound, PolicyDenied, ProcessError
from mcp_docker_server.policy import Policy, digest_pinned
from mcp_docker_server.processes import find_tool, run_tool
from mcp_docker_server.state import AppState
from mcp_docker_server.supply.refs import pinned_reference
from mcp_docker_server.supply.signing import COSIGN_INSTALL, cosign_argv, cosign_verdict, signing_configured

__all__ = ["check_registry_read", "cosign_verify", "require_signatures", "resolve_digest"]


def check_registry_read(policy: Policy, what: str) -> None:
    """A read-only server contacts no registry unless the operator allows it.

    Raises:
        PolicyDenied: naming read_only_registry_reads.
    """
    if policy.read_only and not policy.read_only_registry_reads:
        raise PolicyDenied(
            "read-only",
            f"{what} would contact a registry, and this server is read-only",
            hint="lint, audit and sbom of local images still work.",
            setting="read_only_registry_reads = true",
        )


async def resolve_digest(state: AppState, ref: str) -> tuple[str, str]:
    """The digest ``ref`` names: given in it, recorded locally at pull or push, or the
    registry's current one (asked through the engine's distribution endpoint; nothing pulled).

    Raises:
        EngineAPIError: the registry cannot resolve it.
    """
    if digest_pinned(ref) and "@" in ref:
        return ref.rsplit("@", 1)[1], "given"
    contents = ImageContents(state.engine)
    try:
        if local := await contents.local_digest(ref):
            return local, "local"
    except NotFound:
        pass  # not here: the registry may still know it
    check_registry_read(state.policy, f"resolving the digest of {ref}, which is not here,")
    auth = await state.images.auth_for(ref, None, state.settings.registry)
    return await contents.registry_digest(ref, auth), "registry"


async def cosign_verify(state: AppState, ref: str, timeout: float) -> tuple[bool, str, str]:
    """(verified, why, the name@digest checked) for ``ref`` under the operator's cosign settings.

    Raises:
        ProcessError: cosign is not installed, or ran out of time.
        InvalidArgument: the operator configured no key or identity.
    """
    check_registry_read(state.policy, f"verifying {ref} (cosign reads its signature from the registry)")
    cosign = find_tool("cosign")
    if cosign is None:
        raise ProcessError(
            "cosign is not installed on the server, so no signature can be verified.",
            hint=COSIGN_INSTALL + ".",
        )
    if not signing_configured(state.policy):
        raise InvalidArgument(
            "No cosign key or identity is configured to verify signatures against.",
            hint="the operator sets cosign_key, or cosign_identity and cosign_issuer, in the policy file.",
        )
    digest, _ = await resolve_digest(state, ref)
    pinned = pinned_reference(ref, digest)
    env = {**os.environ, "DOCKER_CONFIG": str(state.settings.docker_config)}
    done = await run_tool(cosign_argv(cosign, state.policy, pinned), timeout=timeout, env=env)
    verified, why = cosign_verdict(done.returncode, done.stdout, done.stderr)
    return verified, why, pinned


async def require_signatures(state: AppState, images: Iterable[str]) -> None:
    """Under ``require_signature``, refuse unless every image passes `cosign verify`.

    Raises:
        PolicyDenied: an image is unsigned, fails verification, or cannot be checked here.
    """
    if not state.policy.require_signature:
        return
    for image in sorted(set(images)):
        if image.startswith("(build of "):
            why = "an image built on the spot carries no signature"
        else:
            try:
                verified, why, _ = await cosign_verify(state, image, timeout=120)
            except DockerServerError as exc:
                verified, why = False, exc.message.rstrip(".")
            if verified:
                continue
        raise PolicyDenied(
            "require-signature",
            f"{image} has no verified signature ({why})",
            hint="use an image signed with the operator's key or identity; image-security action=verify "
            "checks one.",
            setting="require_signature = false",
        )
