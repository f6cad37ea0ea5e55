"""Data sets: create, retrieve, list, count, update (what cognite-toolkit needs to deploy functions;
CDF has no delete)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.common import ByIds
from fnhost.schemas.datasets import DataSetAggregate, DataSetList, DataSetsCreate, DataSetsUpdate
from fnhost.services import datasets as datasets_service

router = APIRouter(prefix="/api/v1/projects/{project}/datasets", tags=["datasets"])

Reader = Annotated[Principal, Depends(require(caps.DATASETS_READ))]
Writer = Annotated[Principal, Depends(require(caps.DATASETS_WRITE))]


@router.post("", status_code=201)
async def create_datasets(
    project: str, body: DataSetsCreate, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Create data sets."""
    created = await datasets_service.create(platform, project=project, items=body.items)
    return responses.items(created, status_code=201)


@router.post("/byids")
async def retrieve_datasets(
    project: str, body: ByIds, platform: PlatformDep, _: Reader
) -> WireJSON:
    """Retrieve data sets by id or external id."""
    found = await datasets_service.retrieve(
        platform, project=project, items=body.items, ignore_unknown=bool(body.ignore_unknown_ids)
    )
    return responses.items(found)


@router.post("/list")
async def list_datasets(
    project: str, platform: PlatformDep, _: Reader, body: DataSetList | None = None
) -> WireJSON:
    """List data sets."""
    body = body or DataSetList()
    found, cursor = await datasets_service.list_datasets(
        platform, project=project, filter=body.filter, limit=body.limit, cursor=body.cursor
    )
    return responses.items(found, cursor)


@router.post("/aggregate")
async def count_datasets(
    project: str, platform: PlatformDep, _: Reader, body: DataSetAggregate | None = None
) -> WireJSON:
    """Count the data sets matching a filter."""
    body = body or DataSetAggregate()
    count = await datasets_service.count(platform, project=project, filter=body.filter)
    return WireJSON({"items": [{"count": count}]})


@router.post("/update")
async def update_datasets(
    project: str, body: DataSetsUpdate, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Change data sets: `set`/`setNull` fields, `set`/`add`/`remove` metadata."""
    updated = await datasets_service.update(platform, project=project, items=body.items)
    return responses.items(updated)
