"""Queries on file metadata. The bytes live in the blob store."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import File


async def insert(session: AsyncSession, **values: Any) -> File:
    row = File(**values)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, *, project: str, file_id: int) -> File | None:
    result = await session.execute(select(File).where(File.project == project, File.id == file_id))
    return result.scalar_one_or_none()


async def get_by_external_id(
    session: AsyncSession, *, project: str, external_id: str
) -> File | None:
    result = await session.execute(
        select(File).where(File.project == project, File.external_id == external_id)
    )
    return result.scalar_one_or_none()


async def get_by_upload_key(session: AsyncSession, *, upload_key: str) -> File | None:
    result = await session.execute(select(File).where(File.upload_key == upload_key))
    return result.scalar_one_or_none()


async def get_many(
    session: AsyncSession, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[File]:
    result = await session.execute(
        select(File).where(
            File.project == project,
            or_(File.id.in_(ids), File.external_id.in_(external_ids)),
        )
    )
    return list(result.scalars())


async def delete_many(session: AsyncSession, *, project: str, ids: Sequence[int]) -> None:
    await session.execute(delete(File).where(File.project == project, File.id.in_(ids)))
