"""Queries on sessions."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Session


async def insert(session: AsyncSession, **values: Any) -> Session:
    row = Session(**values)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, *, project: str, session_id: int) -> Session | None:
    result = await session.execute(
        select(Session).where(Session.project == project, Session.id == session_id)
    )
    return result.scalar_one_or_none()


async def get_by_nonce(session: AsyncSession, *, project: str, nonce_hash: str) -> Session | None:
    result = await session.execute(
        select(Session).where(Session.project == project, Session.nonce_hash == nonce_hash)
    )
    return result.scalar_one_or_none()


async def get_many(session: AsyncSession, *, project: str, ids: Sequence[int]) -> list[Session]:
    result = await session.execute(
        select(Session).where(Session.project == project, Session.id.in_(ids))
    )
    return list(result.scalars())


async def set_expiration(
    session: AsyncSession, *, session_ids: Sequence[int], expiration_time: int
) -> None:
    await session.execute(
        update(Session).where(Session.id.in_(session_ids)).values(expiration_time=expiration_time)
    )
