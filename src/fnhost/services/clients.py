"""Clients registered with fnhost: client credentials for sessions and the token endpoint."""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from fnhost import clock, errors
from fnhost.auth import capabilities, tokens
from fnhost.auth.principal import Principal
from fnhost.services import tokens as tokens_service
from fnhost.services.platform import Platform
from fnhost.store import clients as clients_store
from fnhost.store import tokens as tokens_store

CLIENT_TOKEN = "client"


@dataclass(frozen=True)
class RegisteredClient:
    """What `fnhost client list` shows of a client (never its secret)."""

    client_id: str
    projects: list[str] | None
    capabilities: list[str]
    created_time: int
    revoked: bool
    description: str | None


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


async def create(
    platform: Platform,
    *,
    projects: list[str] | None,
    capabilities_: list[str],
    description: str | None = None,
) -> tuple[str, str]:
    """Register a new client; returns its id and its secret (shown once, stored hashed)."""
    if not capabilities_:
        raise errors.InvalidInput("A client needs at least one capability")
    client_id, secret = tokens.generate_client_id(), tokens.generate_client_secret()
    async with platform.db.write() as session:
        await clients_store.insert(
            session,
            client_id=client_id,
            secret_hash=tokens.digest(secret),
            projects=None if projects is None else sorted(set(projects)),
            capabilities=sorted({capabilities.parse(c) for c in capabilities_}),
            description=description,
            created_time=clock.to_ms(clock.now()),
        )
    return client_id, secret


async def list_clients(platform: Platform) -> list[RegisteredClient]:
    async with platform.db.read() as session:
        rows = await clients_store.list_all(session)
    return [
        RegisteredClient(
            client_id=row.client_id,
            projects=row.projects,
            capabilities=row.capabilities,
            created_time=row.created_time,
            revoked=row.revoked,
            description=row.description,
        )
        for row in rows
    ]


async def revoke(platform: Platform, *, client_id: str) -> None:
    """Revoke a client and every access token it obtained."""
    async with platform.db.write() as session:
        row = await clients_store.get(session, client_id=client_id)
        if row is None:
            raise errors.NotFound(f"No registered client {client_id!r}")
        row.revoked = True
        await tokens_store.revoke_for_subject(session, kind=CLIENT_TOKEN, subject=client_id)


async def registered(platform: Platform, *, client_id: str, client_secret: str) -> Principal | None:
    """The principal of a registered client; None when unknown; Unauthenticated when refused."""
    async with platform.db.read() as session:
        row = await clients_store.get(session, client_id=client_id)
    if row is None:
        return None
    if row.revoked or not hmac.compare_digest(row.secret_hash, tokens.digest(client_secret)):
        raise errors.Unauthenticated(f"Wrong secret, or client {client_id!r} was revoked")
    return Principal.of(
        client_id,
        projects=None if row.projects is None else frozenset(row.projects),
        capabilities=frozenset(row.capabilities),
    )


async def principal_of(platform: Platform, *, client_id: str, client_secret: str) -> Principal:
    """Check client credentials with fnhost's own clients, else with the OIDC token endpoint."""
    try:
        principal = await registered(platform, client_id=client_id, client_secret=client_secret)
    except errors.Unauthenticated as error:
        raise errors.InvalidInput(f"Invalid client credentials: {error.message}") from error
    if principal is not None:
        return principal
    if platform.oidc is None:
        raise errors.InvalidInput(
            f"Unknown client {client_id!r}: register clients with `fnhost client create`"
        )
    return await platform.oidc.exchange_client_credentials(client_id, client_secret)


async def issue_access_token(
    platform: Platform, *, client_id: str, client_secret: str
) -> AccessToken:
    """POST /oauth2/token: a short-lived bearer token for a registered client."""
    principal = await registered(platform, client_id=client_id, client_secret=client_secret)
    if principal is None:
        raise errors.Unauthenticated(f"Unknown client {client_id!r}")
    ttl = platform.settings.identity.client_token_ttl_seconds
    (grant,) = principal.grants
    token = tokens.generate()
    async with platform.db.write() as session:
        # Expired client tokens are of no use to anyone; drop them as new ones are issued.
        await tokens_store.delete_expired(
            session, kind=CLIENT_TOKEN, now_ms=clock.to_ms(clock.now())
        )
    await tokens_service.register(
        platform,
        token=token,
        kind=CLIENT_TOKEN,
        subject=client_id,
        projects=None if grant.projects is None else sorted(grant.projects),
        capabilities_=sorted(grant.capabilities),
        expires_ms=clock.to_ms(clock.now() + timedelta(seconds=ttl)),
    )
    return AccessToken(token=token, expires_in=ttl)
