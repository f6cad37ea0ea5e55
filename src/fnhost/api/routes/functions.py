"""Functions: F1-F6, limits (L1) and activation (A1/A2)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.common import MAX_ID, ByIds, EmptyObject, Identifier, WireModel
from fnhost.schemas.functions import FunctionCreate, FunctionList
from fnhost.services import functions as functions_service

router = APIRouter(prefix="/api/v1/projects/{project}/functions", tags=["functions"])

Reader = Annotated[Principal, Depends(require(caps.FUNCTIONS_READ))]
Writer = Annotated[Principal, Depends(require(caps.FUNCTIONS_WRITE))]


class FunctionsCreate(WireModel):
    items: list[FunctionCreate] = Field(min_length=1, max_length=1)


class FunctionsDelete(WireModel):
    items: list[Identifier] = Field(min_length=1, max_length=10_000)
    ignore_unknown_ids: bool | None = False


@router.post("", status_code=201)
async def create_function(
    project: str, body: FunctionsCreate, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Create a function from an uploaded code zip; it starts Queued and is built next."""
    created = await functions_service.create(platform, project=project, body=body.items[0])
    return responses.items([created], status_code=201)


@router.post("/list")
async def list_functions(
    project: str, body: FunctionList, platform: PlatformDep, _: Reader
) -> WireJSON:
    """List functions matching a filter."""
    found, cursor = await functions_service.list_functions(
        platform, project=project, filter=body.filter, limit=body.limit, cursor=body.cursor
    )
    return responses.items(found, cursor)


@router.get("")
async def list_functions_get(
    project: str,
    platform: PlatformDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: str | None = None,
) -> WireJSON:
    """List functions."""
    found, next_cursor = await functions_service.list_functions(
        platform, project=project, filter=None, limit=limit, cursor=cursor
    )
    return responses.items(found, next_cursor)


@router.post("/byids")
async def retrieve_functions(
    project: str, body: ByIds, platform: PlatformDep, _: Reader
) -> WireJSON:
    """Retrieve functions by id or external id."""
    found = await functions_service.retrieve(
        platform, project=project, items=body.items, ignore_unknown=bool(body.ignore_unknown_ids)
    )
    return responses.items(found)


@router.post("/delete")
async def delete_functions(
    project: str, body: FunctionsDelete, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Delete functions, their schedules and their calls."""
    await functions_service.delete(
        platform, project=project, items=body.items, ignore_unknown=bool(body.ignore_unknown_ids)
    )
    return responses.wire(EmptyObject())


@router.get("/limits")
async def limits(platform: PlatformDep, _: Reader) -> WireJSON:
    """The limits this server applies to functions and calls."""
    return responses.wire(functions_service.limits(platform))


@router.get("/status")
async def activation_status(platform: PlatformDep, _: Reader) -> WireJSON:
    """Functions are always activated on a self-hosted server."""
    return responses.wire(functions_service.activation(platform))


@router.post("/status")
async def activate(platform: PlatformDep, _: Writer) -> WireJSON:
    """Activate Functions (already active)."""
    return responses.wire(functions_service.activation(platform))


@router.get("/{functionId}")
async def get_function(
    project: str,
    platform: PlatformDep,
    _: Reader,
    function_id: Annotated[int, Path(alias="functionId", ge=1, le=MAX_ID)],
) -> WireJSON:
    """Retrieve one function."""
    found = await functions_service.get(platform, project=project, function_id=function_id)
    return responses.wire(found)
