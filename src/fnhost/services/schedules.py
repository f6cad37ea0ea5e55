"""Schedules: create (binding a session for their lifetime), list, retrieve, delete, input data,
and the scheduler's side: which schedules exist, and firing a tick as one call per schedule."""

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost import clock, cron, errors
from fnhost.auth.principal import Principal
from fnhost.schemas.schedules import (
    ScheduleCreate,
    ScheduleFilter,
    ScheduleInputData,
    ScheduleRead,
)
from fnhost.services import calls as calls_service
from fnhost.services import cursors, filters
from fnhost.services import sessions as sessions_service
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store import schedules as schedules_store
from fnhost.store.engine import on_connection
from fnhost.store.tables import Function, Schedule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleTiming:
    """What the scheduler needs to know of a schedule to find its ticks."""

    id: int
    cron_expression: str
    created_time: datetime


def to_read(row: Schedule, *, function_external_id: str | None) -> ScheduleRead:
    return ScheduleRead.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "function_id": row.function_id,
            "function_external_id": function_external_id,
            "description": row.description,
            "cron_expression": row.cron_expression,
            "when": cron.describe(row.cron_expression),
            "session_id": row.session_id,
            "created_time": row.created_time,
        }
    )


async def _function_of(session: AsyncSession, *, project: str, body: ScheduleCreate) -> Function:
    """The scheduled function: by functionId, or by the deprecated functionExternalId."""
    if body.function_external_id is not None:
        if body.nonce is not None:
            raise errors.InvalidInput(
                "When creating a schedule with a session nonce, you must use functionId; "
                "functionExternalId is deprecated. Look the id up with POST /functions/byids."
            )
        if body.function_id is not None:
            raise errors.InvalidInput("Give functionId or functionExternalId, not both")
        function = await functions_store.get_by_external_id(
            session, project=project, external_id=body.function_external_id
        )
        if function is None:
            raise errors.NotFound(
                "Function not found", missing=[{"externalId": body.function_external_id}]
            )
        return function
    if body.function_id is None:
        raise errors.InvalidInput("functionId is required: the id of the function to schedule")
    function = await functions_store.get(session, project=project, function_id=body.function_id)
    if function is None:
        raise errors.NotFound("Function not found", missing=[{"id": body.function_id}])
    return function


async def create(
    platform: Platform, *, project: str, principal: Principal, body: ScheduleCreate
) -> ScheduleRead:
    """Store a schedule bound to the nonce's session (or, without one, to the caller)."""
    calls_service.check_data_size(platform.settings, body.data, what="The schedule's data")
    async with platform.db.write() as session:
        function = await _function_of(session, project=project, body=body)
        # Held: the session lives as long as the schedule (released when it is deleted).
        bound = await on_connection(
            session,
            lambda connection: sessions_service.bind_or_capture(
                connection, project=project, nonce=body.nonce, principal=principal, ttl=None
            ),
        )
        if bound.type == "ONESHOT_TOKEN_EXCHANGE":
            raise errors.InvalidInput(
                "A one-shot session cannot run a schedule: create the session with "
                "tokenExchange or client credentials"
            )
        row = await schedules_store.insert(
            session,
            project=project,
            function_id=function.id,
            name=body.name,
            description=body.description,
            cron_expression=body.cron_expression,
            data=body.data,
            session_id=bound.id,
            created_time=clock.to_ms(clock.now()),
        )
        read = to_read(row, function_external_id=function.external_id)
    platform.wake_scheduler()
    return read


def _conditions(filter: ScheduleFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filter.name is not None:
        conditions.append(Schedule.name == filter.name)
    if filter.function_id is not None:
        conditions.append(Schedule.function_id == filter.function_id)
    if filter.function_external_id is not None:
        conditions.append(Function.external_id == filter.function_external_id)
    if filter.cron_expression is not None:
        conditions.append(Schedule.cron_expression == filter.cron_expression)
    conditions += filters.within(Schedule.created_time, filter.created_time)
    return conditions


async def list_schedules(
    platform: Platform,
    *,
    project: str,
    filter: ScheduleFilter | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ScheduleRead], str | None]:
    """A page of schedules matching `filter`, oldest first, and the cursor of the next page."""
    async with platform.db.read() as session:
        rows = await schedules_store.list_where(
            session,
            project=project,
            conditions=_conditions(filter or ScheduleFilter()),
            after_id=cursors.decode(cursor),
            limit=limit + 1,
        )
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1][0].id) if len(rows) > limit else None
    return [to_read(row, function_external_id=xid) for row, xid in page], next_cursor


async def _found(
    session: AsyncSession, *, project: str, ids: list[int], ignore_unknown: bool
) -> list[tuple[Schedule, str | None]]:
    """Schedules by id in request order; unknown ids are a 400 + missing unless ignored."""
    known = {
        row.id: (row, xid)
        for row, xid in await schedules_store.get_many(session, project=project, ids=ids)
    }
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in known]
    if missing and not ignore_unknown:
        raise errors.NotFound("Schedules not found", missing=missing)
    return [known[i] for i in dict.fromkeys(ids) if i in known]


async def retrieve(
    platform: Platform, *, project: str, ids: list[int], ignore_unknown: bool
) -> list[ScheduleRead]:
    async with platform.db.read() as session:
        found = await _found(session, project=project, ids=ids, ignore_unknown=ignore_unknown)
    return [to_read(row, function_external_id=xid) for row, xid in found]


async def delete(platform: Platform, *, project: str, ids: list[int], ignore_unknown: bool) -> None:
    """Delete schedules: no further ticks; their past calls stay."""
    async with platform.db.write() as session:
        found = await _found(session, project=project, ids=ids, ignore_unknown=ignore_unknown)
        await schedules_store.delete_many(session, project=project, ids=[r.id for r, _ in found])
        await sessions_service.release(
            session,
            session_ids=[row.session_id for row, _ in found],
            grace=calls_service.session_ttl(platform.settings),
        )


async def release_sessions_of_functions(
    session: AsyncSession, *, settings: Settings, function_ids: list[int]
) -> None:
    """Functions are being deleted, and their schedules with them: release their sessions."""
    await sessions_service.release(
        session,
        session_ids=await schedules_store.session_ids_of_functions(
            session, function_ids=function_ids
        ),
        grace=calls_service.session_ttl(settings),
    )


async def input_data(platform: Platform, *, project: str, schedule_id: int) -> ScheduleInputData:
    """The data each of the schedule's calls gets (never part of list or retrieve)."""
    async with platform.db.read() as session:
        [(row, _)] = await _found(session, project=project, ids=[schedule_id], ignore_unknown=False)
    return ScheduleInputData(id=row.id, data=row.data)


async def timings(platform: Platform) -> list[ScheduleTiming]:
    """Every schedule of every project, as the scheduler sees it."""
    async with platform.db.read() as session:
        rows = await schedules_store.timings(session)
    return [
        ScheduleTiming(id=id_, cron_expression=expression, created_time=clock.from_ms(created))
        for id_, expression, created in rows
    ]


async def fire(platform: Platform, *, due: Mapping[int, datetime]) -> list[int]:
    """Create the call of each (schedule, tick) in `due`, unless it exists already (made before
    a restart, or by another server on this database). Returns the ids of the calls created."""
    by_tick: dict[datetime, list[int]] = defaultdict(list)
    for schedule_id, tick in due.items():
        by_tick[tick].append(schedule_id)
    created: list[tuple[int, int]] = []
    async with platform.db.write() as session:
        # Take the write lock first, so that the calls' startTime is when they came to be.
        await session.connection()
        now_ms = clock.to_ms(clock.now())
        # Schedules deleted meanwhile get no call: their rows are copied in this transaction.
        for tick, schedule_ids in by_tick.items():
            created += await calls_store.insert_scheduled(
                session,
                schedule_ids=schedule_ids,
                scheduled_time=clock.to_ms(tick),
                start_time=now_ms,
            )
        for function_id in {function_id for _, function_id in created}:
            await on_connection(
                session,
                partial(functions_store.touch_last_called, function_id=function_id, at=now_ms),
            )
    if created:
        platform.wake_dispatcher()
    logger.info(
        "schedule ticks: %d due, %d calls created (the others existed already)",
        len(due),
        len(created),
        extra={"action": "ticks_fired", "ticks_due": len(due), "calls_created": len(created)},
    )
    return [call_id for call_id, _ in created]
