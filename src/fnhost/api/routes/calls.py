"""Function calls: F7-F13."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.calls import CallCreate, CallList, CallRead
from fnhost.schemas.common import MAX_ID, ByInternalIds
from fnhost.services import calls as calls_service

router = APIRouter(prefix="/api/v1/projects/{project}/functions/{functionId}", tags=["calls"])

Reader = Annotated[Principal, Depends(require(caps.FUNCTIONS_READ))]
Runner = Annotated[Principal, Depends(require(caps.FUNCTIONS_RUN, caps.FUNCTIONS_WRITE))]
FunctionId = Annotated[int, Path(alias="functionId", ge=1, le=MAX_ID)]
CallId = Annotated[int, Path(alias="callId", ge=1, le=MAX_ID)]


def _render(request: Request, call: CallRead) -> dict[str, Any]:
    body = call.wire()
    # cognite-toolkit models a call's error as a plain string (spec section 3).
    if "error" in body and request.headers.get("x-cdp-sdk", "").startswith("CogniteToolkit"):
        body["error"] = body["error"]["message"]
    return body


def _items(request: Request, calls: list[CallRead], cursor: str | None = None) -> WireJSON:
    body: dict[str, Any] = {"items": [_render(request, call) for call in calls]}
    if cursor is not None:
        body["nextCursor"] = cursor
    return WireJSON(body)


@router.post("/call", status_code=201)
async def call_function(
    request: Request,
    project: str,
    function_id: FunctionId,
    platform: PlatformDep,
    principal: Runner,
    body: CallCreate | None = None,
) -> WireJSON:
    """Call a function: stored before this returns; back ended if it ends within the wait."""
    call = await calls_service.create(
        platform,
        project=project,
        function_id=function_id,
        principal=principal,
        body=body or CallCreate(),
    )
    return WireJSON(_render(request, call), status_code=201)


@router.post("/calls/list")
async def list_calls(
    request: Request,
    project: str,
    function_id: FunctionId,
    body: CallList,
    platform: PlatformDep,
    _: Reader,
) -> WireJSON:
    """List a function's calls, newest first, following `nextCursor`."""
    found, cursor = await calls_service.list_calls(
        platform,
        project=project,
        function_id=function_id,
        filter=body.filter,
        limit=body.limit,
        cursor=body.cursor,
    )
    return _items(request, found, cursor)


@router.get("/calls")
async def list_calls_get(
    request: Request,
    project: str,
    function_id: FunctionId,
    platform: PlatformDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 25,
    cursor: str | None = None,
) -> WireJSON:
    """List a function's calls."""
    found, next_cursor = await calls_service.list_calls(
        platform, project=project, function_id=function_id, filter=None, limit=limit, cursor=cursor
    )
    return _items(request, found, next_cursor)


@router.post("/calls/byids")
async def retrieve_calls(
    request: Request,
    project: str,
    function_id: FunctionId,
    body: ByInternalIds,
    platform: PlatformDep,
    _: Reader,
) -> WireJSON:
    """Retrieve calls by id."""
    found = await calls_service.retrieve(
        platform,
        project=project,
        function_id=function_id,
        ids=[item.id for item in body.items],
        ignore_unknown=bool(body.ignore_unknown_ids),
    )
    return _items(request, found)


@router.post("/calls/nodes")
async def call_nodes(
    project: str, function_id: FunctionId, body: ByInternalIds, platform: PlatformDep, _: Reader
) -> WireJSON:
    """fnhost's own (not in CDF): the node each call ran on, where calls run on a Ray cluster
    (`node` is null elsewhere, and for a call not yet handed to a node)."""
    found = await calls_service.nodes(
        platform,
        project=project,
        function_id=function_id,
        ids=[item.id for item in body.items],
        ignore_unknown=bool(body.ignore_unknown_ids),
    )
    return responses.items(found)


@router.get("/calls/{callId}")
async def get_call(
    request: Request,
    project: str,
    function_id: FunctionId,
    call_id: CallId,
    platform: PlatformDep,
    _: Reader,
) -> WireJSON:
    """Retrieve one call: status, start and end time, and the error when it failed."""
    call = await calls_service.get(
        platform, project=project, function_id=function_id, call_id=call_id
    )
    return WireJSON(_render(request, call))


@router.get("/calls/{callId}/response")
async def get_response(
    project: str, function_id: FunctionId, call_id: CallId, platform: PlatformDep, _: Reader
) -> WireJSON:
    """The call's response (null unless it completed)."""
    found = await calls_service.response(
        platform, project=project, function_id=function_id, call_id=call_id
    )
    return responses.wire(found)


@router.get("/calls/{callId}/logs")
async def get_logs(
    project: str, function_id: FunctionId, call_id: CallId, platform: PlatformDep, _: Reader
) -> WireJSON:
    """The call's stdout and stderr, one entry per line (also while it runs)."""
    found = await calls_service.logs(
        platform, project=project, function_id=function_id, call_id=call_id
    )
    return responses.items(found)
