"""Access tokens of clients from the identity provider's token endpoint.

A session created with client credentials that fnhost does not know itself is checked here, and
its calls act with tokens got here. A token is kept and handed out again while it lasts long
enough for the call, so calls and schedule ticks do not each cost a request to the provider.
"""

import asyncio
import hashlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fnhost import clock, errors
from fnhost.auth.idp_http import fetch_json
from fnhost.auth.oidc_config import Issuer
from fnhost.auth.principal import IssuerToken, Principal

Verify = Callable[[str], Awaitable[Principal]]


@dataclass
class _Client:
    """One client's kept token, and the lock that makes concurrent calls wait for one fetch."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    token: IssuerToken | None = None


def _key(client_id: str, client_secret: str) -> tuple[str, str]:
    # By the secret too: a wrong secret never gets the token a right one got.
    return client_id, hashlib.sha256(client_secret.encode()).hexdigest()


class ClientTokens:
    """Tokens of clients, from the token endpoint of `issuer` (None: no issuer has one)."""

    def __init__(
        self,
        issuer: Issuer | None,
        *,
        verify: Verify,
        http_timeout_seconds: float,
        now_ms: Callable[[], int] = clock.now_ms,
    ) -> None:
        self._issuer = issuer
        self._verify = verify
        self._timeout = http_timeout_seconds
        self._now_ms = now_ms
        self._clients: dict[tuple[str, str], _Client] = {}

    async def check(self, client_id: str, client_secret: str) -> Principal:
        """Ask the token endpoint for a token of this client, and verify it: the client's
        principal. The token is kept for the client's calls."""
        principal = await self._fetch(client_id, client_secret)
        self._clients.setdefault(
            _key(client_id, client_secret), _Client()
        ).token = principal.issuer_token
        return principal

    async def token(self, client_id: str, client_secret: str, *, valid_for_seconds: float) -> str:
        """A token of this client valid at least `valid_for_seconds` more (when the provider's
        tokens last that long): the kept one, or a new one. InvalidInput says why there is none."""
        key = _key(client_id, client_secret)
        client = self._clients.setdefault(key, _Client())
        async with client.lock:
            kept = client.token
            if kept is None or kept.expires_ms - self._now_ms() < valid_for_seconds * 1000:
                try:
                    kept = (await self._fetch(client_id, client_secret)).issuer_token
                except errors.FnhostError:
                    if client.token is None:
                        self._clients.pop(key, None)  # keep nothing for credentials that fail
                    raise
                client.token = kept
        assert kept is not None
        return kept.token

    async def _fetch(self, client_id: str, client_secret: str) -> Principal:
        issuer = self._issuer
        if issuer is None or issuer.token_url is None:
            raise errors.InvalidInput(
                f"Unknown client {client_id!r}: it is not registered with fnhost "
                "(fnhost client create) and no OIDC issuer has a token_url"
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        if issuer.scopes:
            form["scope"] = " ".join(issuer.scopes)
        request = urllib.request.Request(
            issuer.token_url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Accept": "application/json"},
        )
        try:
            answer = await fetch_json(request, timeout_seconds=self._timeout)
        except urllib.error.HTTPError as error:
            raise errors.InvalidInput(
                f"The identity provider refused the client credentials of {client_id!r} "
                f"(HTTP {error.code})"
            ) from error
        except (OSError, ValueError) as error:
            raise errors.InvalidInput(
                f"The identity provider's token endpoint could not be reached: {error}"
            ) from error
        access_token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(access_token, str):
            raise errors.InvalidInput("The identity provider's answer held no access_token")
        return await self._verify(access_token)
