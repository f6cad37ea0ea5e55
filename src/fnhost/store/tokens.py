"""Bearer tokens fnhost issued: rows and queries. Only a token's SHA-256 is stored."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import record
from fnhost.store.tables import Token, table_of

TOKENS = table_of(Token)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    token_hash: str
    kind: str
    subject: str
    projects: list[str] | None
    capabilities: list[str]
    session_id: int | None
    description: str | None
    created_time: int
    expires_time: int | None
    revoked: bool


def _token(row: Row[Any]) -> TokenRecord:
    return record(TokenRecord, row)


# Built once: every request authenticates, and building a statement costs more than running it.
_BY_HASH = select(TOKENS).where(TOKENS.c.token_hash == bindparam("token_hash"))


def insert_one(tx: Tx, **values: Any) -> None:
    tx.execute(insert(TOKENS), values)


def by_hash(tx: Tx, *, token_hash: str) -> TokenRecord | None:
    row = tx.execute(_BY_HASH, {"token_hash": token_hash}).one_or_none()
    return None if row is None else _token(row)


def set_capabilities(tx: Tx, *, token_hash: str, capabilities: list[str]) -> None:
    statement = (
        update(TOKENS).where(TOKENS.c.token_hash == token_hash).values(capabilities=capabilities)
    )
    tx.execute(statement)


def list_kind(tx: Tx, *, kind: str) -> list[TokenRecord]:
    query = select(TOKENS).where(TOKENS.c.kind == kind).order_by(TOKENS.c.id)
    return [_token(row) for row in tx.execute(query)]


def revoke(tx: Tx, *, token_id: int, kind: str) -> bool:
    statement = (
        update(TOKENS).where(TOKENS.c.id == token_id, TOKENS.c.kind == kind).values(revoked=True)
    )
    return bool(tx.execute(statement).rowcount)


def revoke_for_subject(tx: Tx, *, kind: str, subject: str) -> None:
    statement = (
        update(TOKENS)
        .where(TOKENS.c.kind == kind, TOKENS.c.subject == subject)
        .values(revoked=True)
    )
    tx.execute(statement)


def delete_expired(tx: Tx, *, kind: str, now_ms: int) -> None:
    tx.execute(delete(TOKENS).where(TOKENS.c.kind == kind, TOKENS.c.expires_time <= now_ms))
