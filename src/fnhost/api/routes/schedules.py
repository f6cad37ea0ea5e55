"""Function schedules: S1-S6. Registered before the functions router, whose
`GET /functions/{functionId}` would otherwise match `/functions/schedules`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.common import MAX_ID, ByInternalIds, EmptyObject, WireModel
from fnhost.schemas.schedules import ScheduleCreate, ScheduleList
from fnhost.services import schedules as schedules_service

router = APIRouter(prefix="/api/v1/projects/{project}/functions/schedules", tags=["schedules"])

Reader = Annotated[Principal, Depends(require(caps.FUNCTIONS_READ))]
Writer = Annotated[Principal, Depends(require(caps.FUNCTIONS_WRITE))]


class SchedulesCreate(WireModel):
    items: list[ScheduleCreate] = Field(min_length=1, max_length=1)


@router.post("", status_code=201)
async def create_schedule(
    project: str, body: SchedulesCreate, platform: PlatformDep, principal: Writer
) -> WireJSON:
    """Schedule a function with a cron expression (UTC); its calls run as the nonce's session."""
    created = await schedules_service.create(
        platform, project=project, principal=principal, body=body.items[0]
    )
    return responses.items([created], status_code=201)


@router.post("/list")
async def list_schedules(
    project: str, platform: PlatformDep, _: Reader, body: ScheduleList | None = None
) -> WireJSON:
    """List schedules matching a filter."""
    body = body or ScheduleList()
    found, cursor = await schedules_service.list_schedules(
        platform, project=project, filter=body.filter, limit=body.limit, cursor=body.cursor
    )
    return responses.items(found, cursor)


@router.get("")
async def list_schedules_get(
    project: str,
    platform: PlatformDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: str | None = None,
) -> WireJSON:
    """List schedules."""
    found, next_cursor = await schedules_service.list_schedules(
        platform, project=project, filter=None, limit=limit, cursor=cursor
    )
    return responses.items(found, next_cursor)


@router.post("/byids")
async def retrieve_schedules(
    project: str, body: ByInternalIds, platform: PlatformDep, _: Reader
) -> WireJSON:
    """Retrieve schedules by id."""
    found = await schedules_service.retrieve(
        platform,
        project=project,
        ids=[item.id for item in body.items],
        ignore_unknown=bool(body.ignore_unknown_ids),
    )
    return responses.items(found)


@router.post("/delete")
async def delete_schedules(
    project: str, body: ByInternalIds, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Delete schedules: no further ticks; their past calls are kept."""
    await schedules_service.delete(
        platform,
        project=project,
        ids=[item.id for item in body.items],
        ignore_unknown=bool(body.ignore_unknown_ids),
    )
    return responses.wire(EmptyObject())


@router.get("/{scheduleId}/input_data")
async def input_data(
    project: str,
    platform: PlatformDep,
    _: Reader,
    schedule_id: Annotated[int, Path(alias="scheduleId", ge=1, le=MAX_ID)],
) -> WireJSON:
    """The data the schedule passes to each of its calls."""
    found = await schedules_service.input_data(platform, project=project, schedule_id=schedule_id)
    return responses.wire(found)
