"""Queries on the registry of live dispatchers."""

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Dispatcher


async def register(
    session: AsyncSession, *, dispatcher_id: str, host: str, pid: int, now: int
) -> None:
    session.add(
        Dispatcher(id=dispatcher_id, host=host, pid=pid, started_time=now, heartbeat_time=now)
    )
    await session.flush()


async def beat(session: AsyncSession, *, dispatcher_id: str, now: int) -> None:
    await session.execute(
        update(Dispatcher).where(Dispatcher.id == dispatcher_id).values(heartbeat_time=now)
    )


async def all_(session: AsyncSession) -> list[Dispatcher]:
    return list((await session.execute(select(Dispatcher))).scalars())


async def remove(session: AsyncSession, *, ids: list[str]) -> None:
    await session.execute(delete(Dispatcher).where(Dispatcher.id.in_(ids)))
