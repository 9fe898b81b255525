"""OAuth resource-server mode for the HTTP transport: bearer tokens are JWTs signed by the
operator's issuer, verified here (signature, issuer, audience, expiry, scopes)."""

from __future__ import annotations

import logging

import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings

from mcp_docker_server.config.settings import HttpSettings, OAuthSettings

__all__ = ["JwtVerifier", "auth_settings"]

logger = logging.getLogger(__name__)
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class JwtVerifier(TokenVerifier):
    """Accepts a token only if the issuer signed it for this server and it has not expired."""

    def __init__(self, oauth: OAuthSettings) -> None:
        self._oauth = oauth

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's grant, or None (the transport then answers 401)."""
        try:
            claims = jwt.decode(
                token,
                self._oauth.public_key,
                algorithms=_ALGORITHMS,
                audience=self._oauth.audience,
                issuer=self._oauth.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            # The reason only: the token itself is a credential and never logged.
            logger.info("rejected a bearer token: %s", type(exc).__name__)
            return None
        scopes = str(claims.get("scope", "")).split()
        if not set(self._oauth.scopes) <= set(scopes):
            logger.info("rejected a bearer token: missing scopes")
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims.get("sub") or "unknown"),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            subject=claims.get("sub"),
        )


def auth_settings(http: HttpSettings, oauth: OAuthSettings) -> AuthSettings:
    """What the SDK needs to answer 401s with RFC 9728 protected-resource metadata."""
    host = f"[{http.host}]" if ":" in http.host else http.host
    # Validated from plain strings: the model keeps a path-less issuer exactly as written,
    # which RFC 8414 issuer comparison needs (AnyHttpUrl(...) alone would add a slash).
    return AuthSettings.model_validate(
        {
            "issuer_url": oauth.issuer,
            "resource_server_url": f"http://{host}:{http.port}{http.path}",
            "required_scopes": list(oauth.scopes) or None,
            "validate_token_resource": False,  # the audience check above binds tokens to us
        }
    )
