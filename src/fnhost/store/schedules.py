"""Queries on schedules. Reads for clients carry the function's external id along."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Function, Schedule


async def insert(session: AsyncSession, **values: Any) -> Schedule:
    row = Schedule(**values)
    session.add(row)
    await session.flush()
    return row


async def get_many(
    session: AsyncSession, *, project: str, ids: Sequence[int]
) -> list[tuple[Schedule, str | None]]:
    """Schedules of `project` by id, each with its function's external id."""
    result = await session.execute(
        select(Schedule, Function.external_id)
        .join(Function, Function.id == Schedule.function_id)
        .where(Schedule.project == project, Schedule.id.in_(ids))
    )
    return [(row, external_id) for row, external_id in result]


async def list_where(
    session: AsyncSession,
    *,
    project: str,
    conditions: Sequence[ColumnElement[bool]],
    after_id: int | None,
    limit: int,
) -> list[tuple[Schedule, str | None]]:
    """Schedules matching every condition (on Schedule or Function), by id, after `after_id`."""
    query = (
        select(Schedule, Function.external_id)
        .join(Function, Function.id == Schedule.function_id)
        .where(Schedule.project == project, *conditions)
    )
    if after_id is not None:
        query = query.where(Schedule.id > after_id)
    result = await session.execute(query.order_by(Schedule.id).limit(limit))
    return [(row, external_id) for row, external_id in result]


async def delete_many(session: AsyncSession, *, project: str, ids: Sequence[int]) -> None:
    await session.execute(delete(Schedule).where(Schedule.project == project, Schedule.id.in_(ids)))


async def timings(session: AsyncSession) -> list[tuple[int, str, int]]:
    """(id, cron expression, created time) of every schedule of every project."""
    result = await session.execute(
        select(Schedule.id, Schedule.cron_expression, Schedule.created_time)
    )
    return [(id_, expression, created) for id_, expression, created in result]


async def session_ids_of_functions(
    session: AsyncSession, *, function_ids: Sequence[int]
) -> list[int]:
    result = await session.execute(
        select(Schedule.session_id).where(Schedule.function_id.in_(function_ids))
    )
    return list(result.scalars())
