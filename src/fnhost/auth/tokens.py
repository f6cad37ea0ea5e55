"""fnhost-issued credentials: random strings of which only a SHA-256 is stored."""

import hashlib
import secrets

from fnhost.auth.principal import Principal
from fnhost.store import tokens as tokens_store
from fnhost.store.engine import Tx

# cognite-toolkit pastes client ids and secrets unquoted into YAML: only characters that YAML
# reads as plain text, starting with a letter so no value is mistaken for a number or a tag.
CLIENT_ID_PREFIX = "fnhost-client-"
CLIENT_SECRET_PREFIX = "fs"


def generate() -> str:
    return secrets.token_urlsafe(32)


def generate_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


def generate_client_secret() -> str:
    """A secret of the YAML-safe characters `[A-Za-z0-9_-]`, starting with a letter."""
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_jwt(token: str) -> bool:
    """True for `header.payload.signature`; issued tokens never contain a dot."""
    return token.count(".") == 2


def resolve(tx: Tx, token: str, *, now_ms: int) -> Principal | None:
    """The principal behind `token`, or None when it is unknown, revoked or expired."""
    row = tokens_store.by_hash(tx, token_hash=digest(token))
    if row is None or row.revoked:
        return None
    if row.expires_time is not None and row.expires_time <= now_ms:
        return None
    return Principal.of(
        row.subject,
        projects=None if row.projects is None else frozenset(row.projects),
        capabilities=frozenset(row.capabilities),
        session_id=row.session_id,
    )
