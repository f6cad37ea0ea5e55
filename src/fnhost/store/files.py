"""File metadata: rows and queries. The bytes live in the blob store."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, insert, or_, select, update

from fnhost.store import queries
from fnhost.store.engine import Tx
from fnhost.store.queries import Between, holds, starts_with, within
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


@dataclass(frozen=True)
class FileQuery:
    """Which files of a project to list or count (every field given must match)."""

    name: str | None = None
    external_id_prefix: str | None = None
    directory_prefix: str | None = None
    mime_type: str | None = None
    source: str | None = None
    metadata: Mapping[str, str] | None = None
    data_set_ids: Sequence[int] | None = None
    uploaded: bool | None = None
    created_time: Between | None = None
    last_updated_time: Between | None = None
    uploaded_time: Between | None = None


def _file(row: Row[Any]) -> FileRecord:
    return record(FileRecord, row)


def _matching(project: str, query: FileQuery) -> list[ColumnElement[bool]]:
    # The wire's optional fields live in the JSON `attributes`, under their snake_case names.
    attribute = FILES.c.attributes
    conditions = [
        FILES.c.project == project,
        *starts_with(FILES.c.external_id, query.external_id_prefix),
        *starts_with(attribute["directory"].as_string(), query.directory_prefix),
        *holds(attribute, query.metadata, under="metadata"),
        *within(FILES.c.created_time, query.created_time),
        *within(FILES.c.last_updated_time, query.last_updated_time),
        *within(FILES.c.uploaded_time, query.uploaded_time),
    ]
    if query.name is not None:
        conditions.append(FILES.c.name == query.name)
    if query.mime_type is not None:
        conditions.append(attribute["mime_type"].as_string() == query.mime_type)
    if query.source is not None:
        conditions.append(attribute["source"].as_string() == query.source)
    if query.data_set_ids is not None:
        conditions.append(attribute["data_set_id"].as_integer().in_(query.data_set_ids))
    if query.uploaded is not None:
        conditions.append(FILES.c.uploaded == query.uploaded)
    return conditions


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


def list_after(
    tx: Tx, *, project: str, query: FileQuery, after_id: int | None, limit: int
) -> list[FileRecord]:
    statement = queries.page(FILES, _matching(project, query), after_id=after_id, limit=limit)
    return [_file(row) for row in tx.execute(statement)]


def count(tx: Tx, *, project: str, query: FileQuery) -> int:
    return int(tx.execute(queries.count(FILES, _matching(project, query))).scalar_one())
