"""OIDC bearer tokens: JWTs verified against a trusted issuer's published keys (JWKS)."""

import asyncio
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from fnhost import errors
from fnhost.auth.client_tokens import ClientTokens
from fnhost.auth.idp_http import fetch_json
from fnhost.auth.oidc_config import Issuer, OidcConfig
from fnhost.auth.principal import IssuerToken, Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OidcTimings:
    """How long keys are trusted, how often an unknown key id may refetch them, and more."""

    jwks_max_age_seconds: float
    jwks_min_refresh_seconds: float
    leeway_seconds: float
    http_timeout_seconds: float


class JwksCache:
    """One issuer's signing keys, refetched when stale or when a token names an unknown key."""

    def __init__(
        self, url: str, timings: OidcTimings, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._url = url
        self._timings = timings
        self._monotonic = monotonic
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key `kid` names (or the only key, when the token names none)."""
        async with self._lock:
            if self._stale() or (kid not in self._keys and self._may_refresh()):
                await self._refresh()
        found = self._keys.get(kid)
        if found is None and kid is None and len(self._keys) == 1:
            found = next(iter(self._keys.values()))
        if found is None:
            raise errors.Unauthenticated(f"The token's signing key {kid!r} is not in the JWKS")
        return found

    def _stale(self) -> bool:
        return (
            self._fetched_at is None
            or self._monotonic() - self._fetched_at >= self._timings.jwks_max_age_seconds
        )

    def _may_refresh(self) -> bool:
        # Forged tokens with random key ids must not make the server hammer the issuer.
        assert self._fetched_at is not None
        return self._monotonic() - self._fetched_at >= self._timings.jwks_min_refresh_seconds

    async def _refresh(self) -> None:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        try:
            raw = await fetch_json(request, timeout_seconds=self._timings.http_timeout_seconds)
            keys = jwt.PyJWKSet.from_dict(raw).keys
        except (OSError, ValueError, jwt.PyJWKSetError) as error:
            logger.warning(
                "fetching JWKS failed",
                extra={"action": "jwks_fetch_failed", "url": self._url, "error": str(error)},
            )
            raise errors.Unauthenticated(
                "Cannot verify the token: the issuer's keys could not be fetched"
            ) from error
        self._keys = {key.key_id: key for key in keys}
        self._fetched_at = self._monotonic()


class OidcVerifier:
    """Turns JWTs of the configured issuers into principals; anything else is a 401."""

    def __init__(self, config: OidcConfig, timings: OidcTimings) -> None:
        self._config = config
        self._timings = timings
        self._jwks = {
            issuer.issuer: JwksCache(issuer.jwks_url, timings) for issuer in config.issuers
        }
        self._client_tokens = ClientTokens(
            config.token_issuer,
            verify=self.verify,
            http_timeout_seconds=timings.http_timeout_seconds,
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token: signature, alg, exp, nbf, iss and aud checked."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise errors.Unauthenticated(f"Malformed JWT: {error}") from error
        issuer = self._config.find(str(unverified.get("iss", "")))
        if issuer is None:
            raise errors.Unauthenticated("The token's issuer (iss) is not trusted by this server")
        algorithm = header.get("alg")
        if algorithm not in issuer.algorithms:
            raise errors.Unauthenticated(
                f"The token's algorithm {algorithm!r} is not allowed; allowed: "
                f"{', '.join(issuer.algorithms)}"
            )
        key = await self._jwks[issuer.issuer].key(header.get("kid"))
        if key.algorithm_name not in (None, algorithm):
            raise errors.Unauthenticated("The token's algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=self._timings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise errors.Unauthenticated(f"Invalid token: {error}") from error
        return Principal(
            str(claims["sub"]),
            issuer.grants(_groups(claims, issuer)),
            issuer_token=IssuerToken(token, expires_ms=int(claims["exp"]) * 1000),
        )

    async def exchange_client_credentials(self, client_id: str, client_secret: str) -> Principal:
        """Ask the configured token endpoint for a token of this client, and verify it."""
        return await self._client_tokens.check(client_id, client_secret)

    async def client_token(
        self, client_id: str, client_secret: str, *, valid_for_seconds: float
    ) -> str:
        """A token of this client from the token endpoint, valid `valid_for_seconds` more when
        the provider's tokens last that long; kept and reused while they do."""
        return await self._client_tokens.token(
            client_id, client_secret, valid_for_seconds=valid_for_seconds
        )


def _groups(claims: dict[str, Any], issuer: Issuer) -> list[str]:
    value = claims.get(issuer.groups_claim, [])
    if isinstance(value, str):
        return [value]
    return [str(group) for group in value] if isinstance(value, list) else []
