"""Clients registered with fnhost (client credentials for sessions and the token endpoint):
register, list, revoke. Checking a client's credentials is identity's."""

from dataclasses import dataclass

from fnhost import clock, errors
from fnhost.auth import capabilities, tokens
from fnhost.services import identity
from fnhost.services import projects as projects_service
from fnhost.services.platform import Platform
from fnhost.store import clients as clients_store
from fnhost.store import tokens as tokens_store
from fnhost.store.engine import Tx


@dataclass(frozen=True)
class RegisteredClient:
    """What `fnhost client list` shows of a client (never its secret)."""

    client_id: str
    projects: list[str] | None
    capabilities: list[str]
    created_time: int
    revoked: bool
    description: str | None


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
    granted = None if projects is None else projects_service.check_names(projects)
    client_id, secret = tokens.generate_client_id(), tokens.generate_client_secret()
    values = {
        "client_id": client_id,
        "secret_hash": tokens.digest(secret),
        "projects": granted,
        "capabilities": sorted({capabilities.parse(c) for c in capabilities_}),
        "description": description,
        "created_time": clock.now_ms(),
    }

    def unit(tx: Tx) -> None:
        projects_service.name_in(tx, granted or ())
        clients_store.insert_one(tx, **values)

    await platform.db.run_write(unit)
    return client_id, secret


async def list_clients(platform: Platform) -> list[RegisteredClient]:
    rows = await platform.db.run_read(clients_store.list_all)
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

    def unit(tx: Tx) -> None:
        if not clients_store.revoke(tx, client_id=client_id):
            raise errors.NotFound(f"No registered client {client_id!r}")
        tokens_store.revoke_for_subject(tx, kind=identity.CLIENT, subject=client_id)

    await platform.db.run_write(unit)
