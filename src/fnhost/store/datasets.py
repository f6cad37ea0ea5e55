"""Data sets: rows and queries."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, insert, or_, select, update

from fnhost.store import queries
from fnhost.store.engine import Tx
from fnhost.store.queries import Between, holds, starts_with, within
from fnhost.store.rows import record
from fnhost.store.tables import DataSet, table_of

DATASETS = table_of(DataSet)


@dataclass(frozen=True, slots=True)
class DataSetRecord:
    id: int
    project: str
    external_id: str | None
    name: str | None
    description: str | None
    metadata: dict[str, str] | None
    write_protected: bool
    created_time: int
    last_updated_time: int


@dataclass(frozen=True)
class DataSetQuery:
    """Which data sets of a project to list or count (every field given must match)."""

    metadata: Mapping[str, str] | None = None
    created_time: Between | None = None
    last_updated_time: Between | None = None
    external_id_prefix: str | None = None
    write_protected: bool | None = None


def _dataset(row: Row[Any]) -> DataSetRecord:
    return record(DataSetRecord, row)


def _matching(project: str, query: DataSetQuery) -> list[ColumnElement[bool]]:
    conditions = [
        DATASETS.c.project == project,
        *holds(DATASETS.c.metadata, query.metadata),
        *within(DATASETS.c.created_time, query.created_time),
        *within(DATASETS.c.last_updated_time, query.last_updated_time),
        *starts_with(DATASETS.c.external_id, query.external_id_prefix),
    ]
    if query.write_protected is not None:
        conditions.append(DATASETS.c.write_protected == query.write_protected)
    return conditions


def insert_one(tx: Tx, **values: Any) -> DataSetRecord:
    return _dataset(tx.execute(insert(DATASETS).returning(*DATASETS.c), values).one())


def update_one(tx: Tx, *, dataset_id: int, **values: Any) -> DataSetRecord:
    statement = (
        update(DATASETS).where(DATASETS.c.id == dataset_id).values(**values).returning(*DATASETS.c)
    )
    return _dataset(tx.execute(statement).one())


def get_many(
    tx: Tx, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[DataSetRecord]:
    query = select(DATASETS).where(
        DATASETS.c.project == project,
        or_(DATASETS.c.id.in_(ids), DATASETS.c.external_id.in_(external_ids)),
    )
    return [_dataset(row) for row in tx.execute(query)]


def list_after(
    tx: Tx, *, project: str, query: DataSetQuery, after_id: int | None, limit: int
) -> list[DataSetRecord]:
    statement = queries.page(DATASETS, _matching(project, query), after_id=after_id, limit=limit)
    return [_dataset(row) for row in tx.execute(statement)]


def count(tx: Tx, *, project: str, query: DataSetQuery) -> int:
    return int(tx.execute(queries.count(DATASETS, _matching(project, query))).scalar_one())
