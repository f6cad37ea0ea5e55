"""Sessions: a caller's identity captured behind a one-time nonce, and the tokens it mints."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Row
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost import clock, errors
from fnhost.auth import call_tokens
from fnhost.auth.principal import Principal
from fnhost.schemas.sessions import SessionCreate, SessionRead
from fnhost.services import clients as clients_service
from fnhost.services.platform import Platform
from fnhost.store import sessions as sessions_store
from fnhost.store.tables import Session

USABLE = ("READY", "ACTIVE")
# The expiration time of a held session (epoch ms, the largest id-safe integer): never.
HELD_UNTIL = 2**53 - 1


class SessionUnusable(errors.InvalidInput):
    """The session of this call or schedule can no longer be used."""


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class SessionFields(Protocol):
    """What the checks of a session read: an ORM row or a Core one."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def expiration_time(self) -> int: ...


S = TypeVar("S", bound=SessionFields)


def to_read(row: Session | Row[Any], *, nonce: str | None = None) -> SessionRead:
    return SessionRead.model_validate(
        {
            "id": row.id,
            "type": row.type,
            "status": row.status,
            "nonce": nonce,
            "creation_time": row.creation_time,
            "expiration_time": row.expiration_time,
            "client_id": row.client_id,
        }
    )


def capture(
    connection: Connection,
    *,
    project: str,
    principal: Principal,
    kind: str,
    status: str,
    ttl: timedelta | None,
    client_id: str | None = None,
) -> tuple[Row[Any], str]:
    """Store `principal`'s identity in `project` as a session; returns it and its nonce.

    `ttl` None: held (see `bind_or_capture`).
    """
    now = clock.now()
    nonce = secrets.token_urlsafe(32)
    row = sessions_store.insert_row(
        connection,
        project=project,
        type=kind,
        status=status,
        nonce_hash=_nonce_hash(nonce),
        subject=principal.subject,
        capabilities=sorted(principal.capabilities_in(project)),
        client_id=client_id,
        creation_time=clock.to_ms(now),
        expiration_time=HELD_UNTIL if ttl is None else clock.to_ms(now + ttl),
    )
    return row, nonce


async def create(
    platform: Platform, *, project: str, principal: Principal, body: SessionCreate
) -> SessionRead:
    """POST /sessions: capture the caller, or the client of the credentials, behind a nonce."""
    if body.type == "CLIENT_CREDENTIALS":
        assert body.client_id is not None and body.client_secret is not None
        principal = await clients_service.principal_of(
            platform, client_id=body.client_id, client_secret=body.client_secret
        )
        if not principal.in_project(project):
            raise errors.InvalidInput(
                f"Client {body.client_id!r} has no access to project {project!r}"
            )
    ttl = timedelta(hours=platform.settings.identity.session_ttl_hours)
    row, nonce = await platform.db.run_write(
        lambda connection: capture(
            connection,
            project=project,
            principal=principal,
            kind=body.type,
            status="READY",
            ttl=ttl,
            client_id=body.client_id,
        )
    )
    return to_read(row, nonce=nonce)


def bind_or_capture(
    connection: Connection,
    *,
    project: str,
    nonce: str | None,
    principal: Principal,
    ttl: timedelta | None,
) -> Row[Any]:
    """The nonce's session; without a nonce (curl, scripts), the caller's own identity.

    `ttl` None holds the session: usable until released, as a schedule's lives as long as it.
    """
    if nonce:
        return bind(connection, project=project, nonce=nonce, held=ttl is None)
    row, _ = capture(
        connection,
        project=project,
        principal=principal,
        kind="TOKEN_EXCHANGE",
        status="ACTIVE",
        ttl=ttl,
    )
    return row


def bind(connection: Connection, *, project: str, nonce: str, held: bool) -> Row[Any]:
    """Consume a nonce: its session becomes ACTIVE. Unknown or used nonces are a 400."""
    row = sessions_store.bind_nonce(
        connection,
        project=project,
        nonce_hash=_nonce_hash(nonce),
        now=clock.to_ms(clock.now()),
        held_until=HELD_UNTIL if held else None,
    )
    if row is None:
        raise errors.InvalidInput(
            "Failed to bind session: the nonce is unknown, expired or already used. "
            "Create a new session (POST /sessions) and pass its nonce."
        )
    return row


async def release(session: AsyncSession, *, session_ids: list[int], grace: timedelta) -> None:
    """Let held sessions expire after `grace`, once calls they may still run are done."""
    if session_ids:
        expiry = clock.to_ms(clock.now() + grace)
        await sessions_store.set_expiration(
            session, session_ids=session_ids, expiration_time=expiry
        )


async def retrieve(platform: Platform, *, project: str, ids: list[int]) -> list[SessionRead]:
    async with platform.db.read() as session:
        rows = await sessions_store.get_many(session, project=project, ids=ids)
    known = {row.id: row for row in rows}
    missing = [{"id": i} for i in ids if i not in known]
    if missing:
        raise errors.NotFound("Sessions not found", missing=missing)
    return [to_read(known[i]) for i in dict.fromkeys(ids)]


async def revoke(platform: Platform, *, project: str, ids: list[int]) -> list[SessionRead]:
    """Revoke sessions: their nonces and the tokens of their running calls stop working."""
    async with platform.db.write() as session:
        rows = await sessions_store.get_many(session, project=project, ids=ids)
        known = {row.id: row for row in rows}
        missing = [{"id": i} for i in ids if i not in known]
        if missing:
            raise errors.NotFound("Sessions not found", missing=missing)
        for row in rows:
            row.status = "REVOKED"
    return [to_read(known[i]) for i in dict.fromkeys(ids)]


def check_usable(row: S | None) -> S:
    """The session, if calls may still act with it; SessionUnusable says why not."""
    if row is None:
        raise SessionUnusable("The call's session no longer exists")
    if row.status not in USABLE:
        raise SessionUnusable(f"The call's session (id {row.id}) was {row.status.lower()}")
    if row.expiration_time <= clock.to_ms(clock.now()):
        raise SessionUnusable(f"The call's session (id {row.id}) has expired")
    return row


def usable(connection: Connection, *, session_id: int) -> Row[Any]:
    """The session with this id, if calls may still act with it."""
    return check_usable(sessions_store.by_id(connection, session_id=session_id))


def mint_token(key: bytes, *, call_id: int, session: SessionFields | None, ttl: timedelta) -> str:
    """A bearer token for a running call: the session's identity while the call runs."""
    row = check_usable(session)
    expires = clock.to_ms(clock.now() + ttl)
    return call_tokens.mint(key, call_id=call_id, session_id=row.id, expires_ms=expires)
