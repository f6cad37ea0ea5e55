"""File metadata: rows and queries. The bytes live in the blob store."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import record
from fnhost.store.tables import File, table_of

FILES = table_of(File)


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: int
    project: str
    external_id: str | None
    name: str
    attributes: dict[str, Any]
    upload_key: str
    blob_digest: str | None
    size: int | None
    uploaded: bool
    uploaded_time: int | None
    created_time: int
    last_updated_time: int


def _file(row: Row[Any]) -> FileRecord:
    return record(FileRecord, row)


def _one(tx: Tx, *conditions: Any) -> FileRecord | None:
    row = tx.execute(select(FILES).where(*conditions)).one_or_none()
    return None if row is None else _file(row)


def insert_one(tx: Tx, **values: Any) -> FileRecord:
    return _file(tx.execute(insert(FILES).returning(*FILES.c), values).one())


def update_one(tx: Tx, *, file_id: int, **values: Any) -> FileRecord:
    statement = update(FILES).where(FILES.c.id == file_id).values(**values).returning(*FILES.c)
    return _file(tx.execute(statement).one())


def get(tx: Tx, *, project: str, file_id: int) -> FileRecord | None:
    return _one(tx, FILES.c.project == project, FILES.c.id == file_id)


def get_by_id(tx: Tx, *, file_id: int) -> FileRecord | None:
    return _one(tx, FILES.c.id == file_id)


def get_by_external_id(tx: Tx, *, project: str, external_id: str) -> FileRecord | None:
    return _one(tx, FILES.c.project == project, FILES.c.external_id == external_id)


def get_by_upload_key(tx: Tx, *, upload_key: str) -> FileRecord | None:
    return _one(tx, FILES.c.upload_key == upload_key)


def get_many(
    tx: Tx, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[FileRecord]:
    query = select(FILES).where(
        FILES.c.project == project,
        or_(FILES.c.id.in_(ids), FILES.c.external_id.in_(external_ids)),
    )
    return [_file(row) for row in tx.execute(query)]


def delete_many(tx: Tx, *, project: str, ids: Sequence[int]) -> None:
    tx.execute(delete(FILES).where(FILES.c.project == project, FILES.c.id.in_(ids)))
