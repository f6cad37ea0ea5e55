"""Clients registered with fnhost: rows and queries. Only a secret's SHA-256 is stored."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import record
from fnhost.store.tables import Client, table_of

CLIENTS = table_of(Client)


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: int
    client_id: str
    secret_hash: str
    projects: list[str] | None
    capabilities: list[str]
    description: str | None
    revoked: bool
    created_time: int


def _client(row: Row[Any]) -> ClientRecord:
    return record(ClientRecord, row)


def insert_one(tx: Tx, **values: Any) -> None:
    tx.execute(insert(CLIENTS), values)


def get(tx: Tx, *, client_id: str) -> ClientRecord | None:
    row = tx.execute(select(CLIENTS).where(CLIENTS.c.client_id == client_id)).one_or_none()
    return None if row is None else _client(row)


def list_all(tx: Tx) -> list[ClientRecord]:
    return [_client(row) for row in tx.execute(select(CLIENTS).order_by(CLIENTS.c.id))]


def revoke(tx: Tx, *, client_id: str) -> bool:
    statement = update(CLIENTS).where(CLIENTS.c.client_id == client_id).values(revoked=True)
    return bool(tx.execute(statement).rowcount)
