"""Data sets: named groups a file (function code) can belong to. They are created, changed and
read; as in CDF, never deleted."""

from functools import partial
from typing import Any

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.datasets import (
    DataSetChanges,
    DataSetCreate,
    DataSetFilter,
    DataSetRead,
    DataSetUpdate,
)
from fnhost.services import cursors, identifiers, projects
from fnhost.services.platform import Platform
from fnhost.store import datasets as datasets_store
from fnhost.store.datasets import DataSetQuery, DataSetRecord
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


def _query(filter: DataSetFilter | None) -> DataSetQuery:
    if filter is None:
        return DataSetQuery()
    return DataSetQuery(
        metadata=filter.metadata,
        created_time=filter.created_time,
        last_updated_time=filter.last_updated_time,
        external_id_prefix=filter.external_id_prefix,
        write_protected=filter.write_protected,
    )


async def list_datasets(
    platform: Platform,
    *,
    project: str,
    filter: DataSetFilter | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[DataSetRead], str | None]:
    found = await platform.db.run_read(
        partial(
            datasets_store.list_after,
            project=project,
            query=_query(filter),
            after_id=cursors.decode(cursor),
            limit=limit + 1,
        )
    )
    page, next_cursor = cursors.page(found, limit)
    return [to_read(dataset) for dataset in page], next_cursor


async def count(platform: Platform, *, project: str, filter: DataSetFilter | None) -> int:
    """POST /datasets/aggregate: how many data sets match `filter`."""
    return await platform.db.run_read(
        partial(datasets_store.count, project=project, query=_query(filter))
    )


def _changed(dataset: DataSetRecord, changes: DataSetChanges) -> dict[str, Any]:
    """The columns `changes` set; blank texts become null, as at create."""
    values: dict[str, Any] = {
        column: change.value or None
        for column, change in (
            ("external_id", changes.external_id),
            ("name", changes.name),
            ("description", changes.description),
        )
        if change is not None
    }
    if changes.metadata is not None:
        values["metadata"] = changes.metadata.applied(dataset.metadata) or None
    if changes.write_protected is not None:
        values["write_protected"] = changes.write_protected.set
    return values


async def update(
    platform: Platform, *, project: str, items: list[DataSetUpdate]
) -> list[DataSetRead]:
    """POST /datasets/update: change data sets in place. Unknown ones are a 400 naming them, an
    externalId another data set has a 409 naming it; either way nothing changes."""
    now = clock.now_ms()

    def unit(tx: Tx) -> list[DataSetRecord]:
        ids, external_ids = identifiers.split(items)
        found = datasets_store.get_many(tx, project=project, ids=ids, external_ids=external_ids)
        targets = identifiers.match(items, found, ignore_unknown=False, what="Data sets")
        if len(targets) != len(items):
            raise errors.InvalidInput("Each data set may be updated once per request")
        changes = [
            (dataset, _changed(dataset, item.update))
            for dataset, item in zip(targets, items, strict=True)
        ]
        renamed = {c["external_id"]: d.id for d, c in changes if c.get("external_id")}
        wanted = [c["external_id"] for _, c in changes if c.get("external_id")]
        holders = datasets_store.get_many(tx, project=project, ids=[], external_ids=wanted)
        taken = {h.external_id for h in holders if h.external_id and renamed[h.external_id] != h.id}
        taken |= {xid for xid in wanted if wanted.count(xid) > 1}
        if taken:
            raise errors.Conflict(
                "Data sets with these externalIds already exist",
                duplicated=[{"externalId": xid} for xid in sorted(taken)],
            )
        return [
            datasets_store.update_one(tx, dataset_id=d.id, last_updated_time=now, **change)
            for d, change in changes
        ]

    return [to_read(dataset) for dataset in await platform.db.run_write(unit)]
