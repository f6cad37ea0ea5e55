"""Schedules: their rows, and the queries on them. Reads for clients carry the scheduled
function's external id along."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, insert, select

from fnhost.store.engine import Tx
from fnhost.store.functions import FUNCTIONS
from fnhost.store.queries import Between, within
from fnhost.store.rows import record
from fnhost.store.tables import Schedule, table_of

SCHEDULES = table_of(Schedule)


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    id: int
    project: str
    function_id: int
    name: str
    description: str | None
    cron_expression: str
    data: Any
    session_id: int
    created_time: int
    function_external_id: str | None  # of the scheduled function, as clients see it


@dataclass(frozen=True)
class ScheduleQuery:
    """Which schedules of a project to list (every field given must match)."""

    name: str | None = None
    function_id: int | None = None
    function_external_id: str | None = None
    cron_expression: str | None = None
    created_time: Between | None = None


_WITH_FUNCTION = select(SCHEDULES, FUNCTIONS.c.external_id.label("function_external_id")).join(
    FUNCTIONS, FUNCTIONS.c.id == SCHEDULES.c.function_id
)


def _schedule(row: Row[Any]) -> ScheduleRecord:
    return record(ScheduleRecord, row)


def insert_one(tx: Tx, *, function_external_id: str | None, **values: Any) -> ScheduleRecord:
    row = tx.execute(insert(SCHEDULES).returning(*SCHEDULES.c), values).one()
    return record(ScheduleRecord, row, function_external_id=function_external_id)


def get_many(tx: Tx, *, project: str, ids: Sequence[int]) -> list[ScheduleRecord]:
    query = _WITH_FUNCTION.where(SCHEDULES.c.project == project, SCHEDULES.c.id.in_(ids))
    return [_schedule(row) for row in tx.execute(query)]


def list_where(
    tx: Tx, *, project: str, query: ScheduleQuery, after_id: int | None, limit: int
) -> list[ScheduleRecord]:
    """Schedules of `project` matching `query`, by id, after `after_id`."""
    statement = _WITH_FUNCTION.where(SCHEDULES.c.project == project)
    if query.name is not None:
        statement = statement.where(SCHEDULES.c.name == query.name)
    if query.function_id is not None:
        statement = statement.where(SCHEDULES.c.function_id == query.function_id)
    if query.function_external_id is not None:
        statement = statement.where(FUNCTIONS.c.external_id == query.function_external_id)
    if query.cron_expression is not None:
        statement = statement.where(SCHEDULES.c.cron_expression == query.cron_expression)
    statement = statement.where(*within(SCHEDULES.c.created_time, query.created_time))
    if after_id is not None:
        statement = statement.where(SCHEDULES.c.id > after_id)
    statement = statement.order_by(SCHEDULES.c.id).limit(limit)
    return [_schedule(row) for row in tx.execute(statement)]


def delete_many(tx: Tx, *, project: str, ids: Sequence[int]) -> None:
    tx.execute(delete(SCHEDULES).where(SCHEDULES.c.project == project, SCHEDULES.c.id.in_(ids)))


def targets(tx: Tx, *, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """(project, function id) of each schedule among `ids` that still exists."""
    query = select(SCHEDULES.c.id, SCHEDULES.c.project, SCHEDULES.c.function_id).where(
        SCHEDULES.c.id.in_(ids)
    )
    return {id_: (project, function_id) for id_, project, function_id in tx.execute(query)}


def timings(tx: Tx) -> list[tuple[int, str, int]]:
    """(id, cron expression, created time) of every schedule of every project."""
    query = select(SCHEDULES.c.id, SCHEDULES.c.cron_expression, SCHEDULES.c.created_time)
    return [(id_, expression, created) for id_, expression, created in tx.execute(query)]


def session_ids_of_functions(tx: Tx, *, function_ids: Sequence[int]) -> list[int]:
    query = select(SCHEDULES.c.session_id).where(SCHEDULES.c.function_id.in_(function_ids))
    return list(tx.execute(query).scalars())
