"""Sessions: a caller's identity captured behind a one-time nonce (POST /sessions), bound by a
call or a schedule, retrieved, revoked and released. Whether a session may still be acted with
is identity's."""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from fnhost import clock, errors
from fnhost.auth.principal import Principal
from fnhost.schemas.sessions import SessionCreate, SessionRead
from fnhost.services import cursors, identity, projects
from fnhost.services.identity import Captured
from fnhost.services.platform import Platform
from fnhost.store import sessions as sessions_store
from fnhost.store.engine import Tx
from fnhost.store.sessions import SessionQuery, SessionRecord

# The expiration time of a held session (epoch ms, the largest id-safe integer): never.
HELD_UNTIL = 2**53 - 1


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def status_of(session: SessionRecord, *, now_ms: int) -> str:
    """The status clients see: a usable session past its expiration time is EXPIRED."""
    if session.status in identity.USABLE and session.expiration_time <= now_ms:
        return "EXPIRED"
    return session.status


def to_read(session: SessionRecord, *, nonce: str | None = None) -> SessionRead:
    return SessionRead.model_validate(
        {
            "id": session.id,
            "type": session.type,
            "status": status_of(session, now_ms=clock.now_ms()),
            "nonce": nonce,
            "creation_time": session.creation_time,
            "expiration_time": session.expiration_time,
            "client_id": session.client_id,
        }
    )


def capture(
    tx: Tx,
    *,
    project: str,
    identity: Captured,
    kind: str,
    status: str,
    ttl: timedelta | None,
    client_id: str | None = None,
) -> tuple[SessionRecord, str]:
    """Store `identity` in `project` as a session; returns it and its nonce.

    `ttl` None: held (see `bind_or_capture`).
    """
    now = clock.now()
    nonce = secrets.token_urlsafe(32)
    session = sessions_store.insert_one(
        tx,
        project=project,
        type=kind,
        status=status,
        nonce_hash=_nonce_hash(nonce),
        subject=identity.principal.subject,
        capabilities=sorted(identity.principal.capabilities_in(project)),
        client_id=client_id,
        creation_time=clock.to_ms(now),
        expiration_time=HELD_UNTIL if ttl is None else clock.to_ms(now + ttl),
        upstream_credentials_sealed=identity.upstream_sealed,
    )
    return session, nonce


async def create(
    platform: Platform, *, project: str, principal: Principal, body: SessionCreate
) -> SessionRead:
    """POST /sessions: capture the caller, or the client of the credentials, behind a nonce."""
    if body.type == "CLIENT_CREDENTIALS":
        assert body.client_id is not None and body.client_secret is not None
        captured = await identity.client_identity(
            platform, client_id=body.client_id, client_secret=body.client_secret
        )
        if not captured.principal.in_project(project):
            raise errors.InvalidInput(
                f"Client {body.client_id!r} has no access to project {project!r}"
            )
    else:
        captured = identity.caller_identity(platform, principal)
    ttl = timedelta(hours=platform.settings.identity.session_ttl_hours)
    session, nonce = await projects.write_in(
        platform,
        project,
        lambda tx: capture(
            tx,
            project=project,
            identity=captured,
            kind=body.type,
            status="READY",
            ttl=ttl,
            client_id=body.client_id,
        ),
    )
    return to_read(session, nonce=nonce)


def bind_or_capture(
    tx: Tx, *, project: str, nonce: str | None, caller: Captured, ttl: timedelta | None
) -> SessionRecord:
    """The nonce's session; without a nonce (curl, scripts), the caller's own identity.

    `ttl` None holds the session: usable until released, as a schedule's lives as long as it.
    """
    if nonce:
        return bind(tx, project=project, nonce=nonce, held=ttl is None)
    session, _ = capture(
        tx, project=project, identity=caller, kind="TOKEN_EXCHANGE", status="ACTIVE", ttl=ttl
    )
    return session


def bind(tx: Tx, *, project: str, nonce: str, held: bool) -> SessionRecord:
    """Consume a nonce: its session becomes ACTIVE. Unknown or used nonces are a 400."""
    session = sessions_store.bind_nonce(
        tx,
        project=project,
        nonce_hash=_nonce_hash(nonce),
        now=clock.now_ms(),
        held_until=HELD_UNTIL if held else None,
    )
    if session is None:
        raise errors.InvalidInput(
            "Failed to bind session: the nonce is unknown, expired or already used. "
            "Create a new session (POST /sessions) and pass its nonce."
        )
    return session


def release(tx: Tx, *, session_ids: Sequence[int], grace: timedelta) -> None:
    """Let held sessions expire after `grace`, once calls they may still run are done."""
    if session_ids:
        expiry = clock.to_ms(clock.now() + grace)
        sessions_store.set_expiration(tx, session_ids=session_ids, expiration_time=expiry)


def _known(tx: Tx, *, project: str, ids: list[int]) -> list[SessionRecord]:
    """Sessions by id in request order; unknown ids are a 400 + missing."""
    known = {
        session.id: session for session in sessions_store.get_many(tx, project=project, ids=ids)
    }
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in known]
    if missing:
        raise errors.NotFound("Sessions not found", missing=missing)
    return [known[i] for i in dict.fromkeys(ids)]


async def retrieve(platform: Platform, *, project: str, ids: list[int]) -> list[SessionRead]:
    found = await platform.db.run_read(lambda tx: _known(tx, project=project, ids=ids))
    return [to_read(session) for session in found]


async def list_sessions(
    platform: Platform, *, project: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[SessionRead], str | None]:
    """GET /sessions: a page of the project's sessions, of one status if given."""
    query = SessionQuery(
        project=project,
        status=status,
        live=identity.USABLE,
        now_ms=clock.now_ms(),
        after_id=cursors.decode(cursor),
        limit=limit + 1,
    )
    found = await platform.db.run_read(partial(sessions_store.list_page, query=query))
    page, next_cursor = cursors.page(found, limit)
    return [to_read(session) for session in page], next_cursor


async def revoke(platform: Platform, *, project: str, ids: list[int]) -> list[SessionRead]:
    """Revoke sessions: their nonces and the tokens of their running calls stop working."""

    def unit(tx: Tx) -> list[SessionRecord]:
        _known(tx, project=project, ids=ids)
        sessions_store.set_status(tx, project=project, ids=ids, status="REVOKED")
        return _known(tx, project=project, ids=ids)

    return [to_read(session) for session in await platform.db.run_write(unit)]
