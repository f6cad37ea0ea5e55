"""Queries on clients registered with fnhost."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Client


async def insert(session: AsyncSession, **values: Any) -> Client:
    row = Client(**values)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, *, client_id: str) -> Client | None:
    result = await session.execute(select(Client).where(Client.client_id == client_id))
    return result.scalar_one_or_none()


async def list_all(session: AsyncSession) -> list[Client]:
    result = await session.execute(select(Client).order_by(Client.id))
    return list(result.scalars())
