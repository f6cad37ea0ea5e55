"""Data sets: named groups a file (function code) can belong to."""

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.datasets import DataSetCreate, DataSetRead
from fnhost.services import cursors, identifiers
from fnhost.services.platform import Platform
from fnhost.store import datasets as datasets_store
from fnhost.store.tables import DataSet


def to_read(row: DataSet) -> DataSetRead:
    return DataSetRead(
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        description=row.description,
        metadata=row.metadata_,
        write_protected=row.write_protected,
        created_time=row.created_time,
        last_updated_time=row.last_updated_time,
    )


async def create(
    platform: Platform, *, project: str, items: list[DataSetCreate]
) -> list[DataSetRead]:
    """Create data sets; an external id taken (or repeated) is a 409 naming it, nothing made."""
    wanted = [item.external_id for item in items if item.external_id is not None]
    now = clock.to_ms(clock.now())
    async with platform.db.write() as session:
        taken = await datasets_store.get_many(session, project=project, ids=[], external_ids=wanted)
        repeated = {xid for xid in wanted if wanted.count(xid) > 1}
        duplicated = sorted({row.external_id for row in taken if row.external_id} | repeated)
        if duplicated:
            raise errors.Conflict(
                "Data sets with these externalIds already exist",
                duplicated=[{"externalId": xid} for xid in duplicated],
            )
        rows = [
            await datasets_store.insert(
                session,
                project=project,
                external_id=item.external_id,
                name=item.name,
                description=item.description,
                metadata_=item.metadata,
                write_protected=item.write_protected,
                created_time=now,
                last_updated_time=now,
            )
            for item in items
        ]
        return [to_read(row) for row in rows]


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[DataSetRead]:
    ids, external_ids = identifiers.split(items)
    async with platform.db.read() as session:
        rows = await datasets_store.get_many(
            session, project=project, ids=ids, external_ids=external_ids
        )
    found = identifiers.match(items, rows, ignore_unknown=ignore_unknown, what="Data sets")
    return [to_read(row) for row in found]


async def list_datasets(
    platform: Platform, *, project: str, limit: int, cursor: str | None
) -> tuple[list[DataSetRead], str | None]:
    async with platform.db.read() as session:
        rows = await datasets_store.list_after(
            session, project=project, after_id=cursors.decode(cursor), limit=limit + 1
        )
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].id) if len(rows) > limit else None
    return [to_read(row) for row in page], next_cursor
