"""Queries on data sets."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import DataSet


async def insert(session: AsyncSession, **values: Any) -> DataSet:
    row = DataSet(**values)
    session.add(row)
    await session.flush()
    return row


async def get_many(
    session: AsyncSession, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[DataSet]:
    result = await session.execute(
        select(DataSet).where(
            DataSet.project == project,
            or_(DataSet.id.in_(ids), DataSet.external_id.in_(external_ids)),
        )
    )
    return list(result.scalars())


async def list_after(
    session: AsyncSession, *, project: str, after_id: int | None, limit: int
) -> list[DataSet]:
    query = select(DataSet).where(DataSet.project == project)
    if after_id is not None:
        query = query.where(DataSet.id > after_id)
    result = await session.execute(query.order_by(DataSet.id).limit(limit))
    return list(result.scalars())
