"""Data sets: rows and queries."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, or_, select

from fnhost.store.engine import Tx
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


def _dataset(row: Row[Any]) -> DataSetRecord:
    return record(DataSetRecord, row)


def insert_one(tx: Tx, **values: Any) -> DataSetRecord:
    return _dataset(tx.execute(insert(DATASETS).returning(*DATASETS.c), values).one())


def get_many(
    tx: Tx, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[DataSetRecord]:
    query = select(DATASETS).where(
        DATASETS.c.project == project,
        or_(DATASETS.c.id.in_(ids), DATASETS.c.external_id.in_(external_ids)),
    )
    return [_dataset(row) for row in tx.execute(query)]


def list_after(tx: Tx, *, project: str, after_id: int | None, limit: int) -> list[DataSetRecord]:
    query = select(DATASETS).where(DATASETS.c.project == project)
    if after_id is not None:
        query = query.where(DATASETS.c.id > after_id)
    return [_dataset(row) for row in tx.execute(query.order_by(DATASETS.c.id).limit(limit))]
