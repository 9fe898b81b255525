"""`cosign verify`: the argv for the operator's key or keyless identity, and what its result
means. Pure."""

from __future__ import annotations

import json

from mcp_docker_server.policy import Policy
from mcp_docker_server.results.shaping import clean_text, truncate

__all__ = ["COSIGN_INSTALL", "cosign_argv", "cosign_verdict", "signing_configured"]

COSIGN_INSTALL = (
    "install cosign (a single static binary from the Sigstore project, e.g. the cosign package "
    "of your distribution) on the server's PATH"
)


def signing_configured(policy: Policy) -> bool:
    """Whether the operator named something to verify signatures against."""
    return bool(policy.cosign_key or (policy.cosign_identity and policy.cosign_issuer))


def cosign_argv(cosign: str, policy: Policy, pinned: str) -> list[str]:
    """`cosign verify` of ``pinned`` (name@digest) against the operator's key or identity."""
    if policy.cosign_key:
        trust = ["--key", policy.cosign_key]
    else:
        trust = [
            "--certificate-identity",
            policy.cosign_identity or "",
            "--certificate-oidc-issuer",
            policy.cosign_issuer or "",
        ]
    return [cosign, "verify", "--output", "json", *trust, "--", pinned]


def cosign_verdict(returncode: int, stdout: str, stderr: str) -> tuple[bool, str]:
    """(verified, one line saying why) from cosign's exit code and output."""
    if returncode == 0:
        try:
            count = len(json.loads(stdout or "[]"))
        except json.JSONDecodeError:
            count = 0
        return True, f"{count or 'a'} valid signature{'s' if count > 1 else ''}"
    lines = [line for line in clean_text(stderr).splitlines() if line.strip()]
    said = lines[-1] if lines else f"cosign exited {returncode}"
    return False, truncate(said.removeprefix("Error: "), 300)[0]
