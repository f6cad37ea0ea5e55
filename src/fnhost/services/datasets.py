"""Data sets: named groups a file (function code) can belong to."""

from functools import partial

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.datasets import DataSetCreate, DataSetRead
from fnhost.services import cursors, identifiers, projects
from fnhost.services.platform import Platform
from fnhost.store import datasets as datasets_store
from fnhost.store.datasets import DataSetRecord
from fnhost.store.engine import Tx


def to_read(dataset: DataSetRecord) -> DataSetRead:
    return DataSetRead(
        id=dataset.id,
        external_id=dataset.external_id,
        name=dataset.name,
        description=dataset.description,
        metadata=dataset.metadata,
        write_protected=dataset.write_protected,
        created_time=dataset.created_time,
        last_updated_time=dataset.last_updated_time,
    )


async def create(
    platform: Platform, *, project: str, items: list[DataSetCreate]
) -> list[DataSetRead]:
    """Create data sets; an external id taken (or repeated) is a 409 naming it, nothing made."""
    wanted = [item.external_id for item in items if item.external_id is not None]
    now = clock.now_ms()

    def unit(tx: Tx) -> list[DataSetRecord]:
        taken = datasets_store.get_many(tx, project=project, ids=[], external_ids=wanted)
        repeated = {xid for xid in wanted if wanted.count(xid) > 1}
        duplicated = sorted({d.external_id for d in taken if d.external_id} | repeated)
        if duplicated:
            raise errors.Conflict(
                "Data sets with these externalIds already exist",
                duplicated=[{"externalId": xid} for xid in duplicated],
            )
        return [
            datasets_store.insert_one(
                tx,
                project=project,
                external_id=item.external_id,
                name=item.name,
                description=item.description,
                metadata=item.metadata,
                write_protected=item.write_protected,
                created_time=now,
                last_updated_time=now,
            )
            for item in items
        ]

    return [to_read(dataset) for dataset in await projects.write_in(platform, project, unit)]


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[DataSetRead]:
    ids, external_ids = identifiers.split(items)
    found = await platform.db.run_read(
        partial(datasets_store.get_many, project=project, ids=ids, external_ids=external_ids)
    )
    matched = identifiers.match(items, found, ignore_unknown=ignore_unknown, what="Data sets")
    return [to_read(dataset) for dataset in matched]


async def list_datasets(
    platform: Platform, *, project: str, limit: int, cursor: str | None
) -> tuple[list[DataSetRead], str | None]:
    found = await platform.db.run_read(
        partial(
            datasets_store.list_after,
            project=project,
            after_id=cursors.decode(cursor),
            limit=limit + 1,
        )
    )
    page = found[:limit]
    next_cursor = cursors.encode(page[-1].id) if len(found) > limit else None
    return [to_read(dataset) for dataset in page], next_cursor
