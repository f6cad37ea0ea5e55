"""Sessions: create (token exchange), list, retrieve, revoke."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.common import ByInternalIds
from fnhost.schemas.sessions import SessionsCreate, SessionStatus
from fnhost.services import sessions as sessions_service

router = APIRouter(prefix="/api/v1/projects/{project}/sessions", tags=["sessions"])


@router.post("", status_code=201)
async def create_session(
    project: str,
    body: SessionsCreate,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(require(caps.SESSIONS_CREATE))],
) -> WireJSON:
    """Capture the caller's identity behind a one-time nonce for a call or schedule."""
    created = await sessions_service.create(
        platform, project=project, principal=principal, body=body.items[0]
    )
    return responses.items([created], status_code=201)


@router.get("")
async def list_sessions(
    project: str,
    platform: PlatformDep,
    _: Annotated[Principal, Depends(require(caps.SESSIONS_LIST))],
    status: SessionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 25,
    cursor: str | None = None,
) -> WireJSON:
    """List the project's sessions, of one status if given."""
    found, next_cursor = await sessions_service.list_sessions(
        platform, project=project, status=status, limit=limit, cursor=cursor
    )
    return responses.items(found, next_cursor)


@router.post("/byids")
async def retrieve_sessions(
    project: str,
    body: ByInternalIds,
    platform: PlatformDep,
    _: Annotated[Principal, Depends(require(caps.SESSIONS_LIST))],
) -> WireJSON:
    """Retrieve sessions by id."""
    found = await sessions_service.retrieve(
        platform, project=project, ids=[item.id for item in body.items]
    )
    return responses.items(found)


@router.post("/revoke")
async def revoke_sessions(
    project: str,
    body: ByInternalIds,
    platform: PlatformDep,
    _: Annotated[Principal, Depends(require(caps.SESSIONS_DELETE))],
) -> WireJSON:
    """Revoke sessions: calls and schedules bound to them can no longer act for their subject."""
    revoked = await sessions_service.revoke(
        platform, project=project, ids=[item.id for item in body.items]
    )
    return responses.items(revoked)
