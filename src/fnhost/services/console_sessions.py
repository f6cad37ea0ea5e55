"""Web console sign-ins: the browser holds a random key, the database its SHA-256 and the
credential signed in with, sealed. Every request checks that credential again, so revoking a
token or a client ends its console sessions at once."""

import hashlib
import secrets
from datetime import timedelta
from functools import partial

from fnhost import clock, errors, timings
from fnhost.auth.principal import Principal
from fnhost.auth.secrets_box import SecretsUnreadable
from fnhost.services import identity as identity_service
from fnhost.services.platform import Platform
from fnhost.store import console_sessions as console_sessions_store

TOKEN = "token"
CLIENT = "client"


class SessionEnded(errors.Unauthenticated):
    """Your console session has ended: sign in again."""


def key_hash(session_key: str) -> str:
    """What the database keeps of a session's key."""
    return hashlib.sha256(session_key.encode()).hexdigest()


async def _principal_of(platform: Platform, credential: dict[str, str]) -> Principal:
    """The principal behind a credential now; Unauthenticated once it stopped working."""
    if credential.get("kind") == CLIENT:
        client_id = credential["client_id"]
        principal = await identity_service.registered_client(
            platform, client_id=client_id, client_secret=credential["client_secret"]
        )
        if principal is None:
            raise errors.Unauthenticated(f"Unknown client {client_id!r}")
        return principal
    return await identity_service.authenticate(platform, credential.get("token"))


async def _open(platform: Platform, credential: dict[str, str]) -> str:
    """Check the credential and store a new session for it; returns the session's key."""
    principal = await _principal_of(platform, credential)
    session_key = secrets.token_urlsafe(32)
    now = clock.now()
    settings = platform.settings.console
    sealed = platform.secrets_box.seal(credential)

    # Sessions that ended are of no use: drop them as new ones begin.
    await platform.db.run_write(
        partial(
            console_sessions_store.delete_ended,
            now=clock.to_ms(now),
            idle_before=clock.to_ms(now - timedelta(minutes=settings.console_session_idle_minutes)),
        )
    )
    await platform.db.run_write(
        partial(
            console_sessions_store.insert_session,
            id_hash=key_hash(session_key),
            subject=principal.subject,
            credential_sealed=sealed,
            created_time=clock.to_ms(now),
            expires_time=clock.to_ms(now + timedelta(hours=settings.console_session_max_hours)),
        )
    )
    return session_key


async def sign_in_with_token(platform: Platform, *, token: str) -> str:
    """A session for a bearer token (admin, issued, or an OIDC JWT); returns its key."""
    return await _open(platform, {"kind": TOKEN, "token": token.strip()})


async def sign_in_with_client(platform: Platform, *, client_id: str, client_secret: str) -> str:
    """A session for a registered client's credentials; returns its key."""
    credential = {"kind": CLIENT, "client_id": client_id.strip(), "client_secret": client_secret}
    return await _open(platform, credential)


async def resume(platform: Platform, *, session_key: str) -> Principal:
    """The principal of a live session; SessionEnded when it expired, idled out, was signed
    out of, or its credential no longer works (and then it is deleted)."""
    hashed = key_hash(session_key)
    found = await platform.db.run_read(partial(console_sessions_store.by_hash, id_hash=hashed))
    if found is None:
        raise SessionEnded()
    settings = platform.settings.console
    now = clock.now_ms()
    idle_ms = settings.console_session_idle_minutes * 60_000
    try:
        if found.expires_time <= now:
            raise errors.Unauthenticated(
                f"it lasts at most {settings.console_session_max_hours} hours"
            )
        if found.last_seen_time + idle_ms <= now:
            raise errors.Unauthenticated(
                f"unused for {settings.console_session_idle_minutes} minutes"
            )
        try:
            credential = platform.secrets_box.open(found.credential_sealed)
        except SecretsUnreadable:
            raise errors.Unauthenticated("the server's secret key changed") from None
        principal = await _principal_of(platform, credential)
    except errors.Unauthenticated as error:
        await sign_out(platform, session_key=session_key)
        raise SessionEnded(
            f"Your console session has ended ({error.message}): sign in again"
        ) from None
    if now - found.last_seen_time >= timings.CONSOLE_SESSION_TOUCH_SECONDS * 1000:
        await platform.db.run_write(
            partial(console_sessions_store.touch, session_id=found.id, at=now)
        )
    return principal


async def sign_out(platform: Platform, *, session_key: str) -> None:
    """End the session: its key stops working at once."""
    await platform.db.run_write(
        partial(console_sessions_store.delete_by_hash, id_hash=key_hash(session_key))
    )
