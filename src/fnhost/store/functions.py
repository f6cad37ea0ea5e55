"""Queries on functions."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Function, table_of

FUNCTIONS = table_of(Function)
# Built once: every call reads its function and stamps its last call.
_IN_PROJECT = select(FUNCTIONS).where(
    FUNCTIONS.c.project == bindparam("project"), FUNCTIONS.c.id == bindparam("function_id")
)
_TOUCH = (
    update(FUNCTIONS)
    .where(FUNCTIONS.c.id == bindparam("function_id"))
    .values(last_called=bindparam("at"))
)


async def insert(session: AsyncSession, **values: Any) -> Function:
    row = Function(**values)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, *, project: str, function_id: int) -> Function | None:
    result = await session.execute(
        select(Function).where(Function.project == project, Function.id == function_id)
    )
    return result.scalar_one_or_none()


def row_in_project(connection: Connection, *, project: str, function_id: int) -> Row[Any] | None:
    params = {"project": project, "function_id": function_id}
    return connection.execute(_IN_PROJECT, params).one_or_none()


async def get_by_id(session: AsyncSession, *, function_id: int) -> Function | None:
    return await session.get(Function, function_id)


async def get_by_external_id(
    session: AsyncSession, *, project: str, external_id: str
) -> Function | None:
    result = await session.execute(
        select(Function).where(Function.project == project, Function.external_id == external_id)
    )
    return result.scalar_one_or_none()


async def get_many(
    session: AsyncSession, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[Function]:
    result = await session.execute(
        select(Function).where(
            Function.project == project,
            or_(Function.id.in_(ids), Function.external_id.in_(external_ids)),
        )
    )
    return list(result.scalars())


async def list_where(
    session: AsyncSession,
    *,
    project: str,
    conditions: Sequence[ColumnElement[bool]],
    after_id: int | None,
    limit: int | None,
) -> list[Function]:
    """Functions of `project` matching every condition, by id ascending, after `after_id`."""
    query = select(Function).where(Function.project == project, *conditions)
    if after_id is not None:
        query = query.where(Function.id > after_id)
    result = await session.execute(query.order_by(Function.id).limit(limit))
    return list(result.scalars())


async def delete_many(session: AsyncSession, *, project: str, ids: Sequence[int]) -> None:
    await session.execute(delete(Function).where(Function.project == project, Function.id.in_(ids)))


async def ids_in_status(session: AsyncSession, *, statuses: Sequence[str]) -> list[int]:
    result = await session.execute(
        select(Function.id).where(Function.status.in_(statuses)).order_by(Function.id)
    )
    return list(result.scalars())


async def transition(
    session: AsyncSession, *, function_id: int, from_status: str, **values: Any
) -> bool:
    """Move a function out of `from_status` (compare-and-set); False when it had moved on."""
    result = await session.execute(
        update(Function)
        .where(Function.id == function_id, Function.status == from_status)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def touch_last_called(connection: Connection, *, function_id: int, at: int) -> None:
    connection.execute(_TOUCH, {"function_id": function_id, "at": at})


async def environments_in_use(session: AsyncSession) -> list[str]:
    """The interpreter paths of every function's environment."""
    result = await session.execute(
        select(Function.environment).where(Function.environment.is_not(None)).distinct()
    )
    return [path for path in result.scalars() if path is not None]
