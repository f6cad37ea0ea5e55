"""Schedules: create (binding a session for their lifetime), list, retrieve, delete, input data,
and the scheduler's side: which schedules exist, and firing a tick as one call per schedule."""

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fnhost import clock, cron, errors, metrics
from fnhost.auth.principal import Principal
from fnhost.schemas.schedules import (
    ScheduleCreate,
    ScheduleFilter,
    ScheduleInputData,
    ScheduleRead,
)
from fnhost.services import cursors, identity, projects, sessions
from fnhost.services.calls import check_data_size, session_ttl
from fnhost.services.capacity import Capacity
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store import schedules as schedules_store
from fnhost.store.engine import Tx
from fnhost.store.functions import FunctionRecord
from fnhost.store.schedules import ScheduleQuery, ScheduleRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleTiming:
    """What the scheduler needs to know of a schedule to find its ticks."""

    id: int
    cron_expression: str
    created_time: datetime


def to_read(schedule: ScheduleRecord) -> ScheduleRead:
    return ScheduleRead.model_validate(
        {
            "id": schedule.id,
            "name": schedule.name,
            "function_id": schedule.function_id,
            "function_external_id": schedule.function_external_id,
            "description": schedule.description,
            "cron_expression": schedule.cron_expression,
            "when": cron.describe(schedule.cron_expression),
            "session_id": schedule.session_id,
            "created_time": schedule.created_time,
        }
    )


def _function_of(tx: Tx, *, project: str, body: ScheduleCreate) -> FunctionRecord:
    """The scheduled function: by functionId, or by the deprecated functionExternalId."""
    if body.function_external_id is not None:
        if body.nonce is not None:
            raise errors.InvalidInput(
                "When creating a schedule with a session nonce, you must use functionId; "
                "functionExternalId is deprecated. Look the id up with POST /functions/byids."
            )
        if body.function_id is not None:
            raise errors.InvalidInput("Give functionId or functionExternalId, not both")
        function = functions_store.get_by_external_id(
            tx, project=project, external_id=body.function_external_id
        )
        if function is None:
            raise errors.NotFound(
                "Function not found", missing=[{"externalId": body.function_external_id}]
            )
        return function
    if body.function_id is None:
        raise errors.InvalidInput("functionId is required: the id of the function to schedule")
    function = functions_store.get(tx, project=project, function_id=body.function_id)
    if function is None:
        raise errors.NotFound("Function not found", missing=[{"id": body.function_id}])
    return function


async def create(
    platform: Platform, *, project: str, principal: Principal, body: ScheduleCreate
) -> ScheduleRead:
    """Store a schedule bound to the nonce's session (or, without one, to the caller)."""
    check_data_size(platform.settings, body.data, what="The schedule's data")
    caller = identity.caller_identity(platform, principal)

    def unit(tx: Tx) -> ScheduleRecord:
        function = _function_of(tx, project=project, body=body)
        # Held: the session lives as long as the schedule (released when it is deleted).
        bound = sessions.bind_or_capture(
            tx, project=project, nonce=body.nonce, caller=caller, ttl=None
        )
        if bound.type == "ONESHOT_TOKEN_EXCHANGE":
            raise errors.InvalidInput(
                "A one-shot session cannot run a schedule: create the session with "
                "tokenExchange or client credentials"
            )
        schedule = schedules_store.insert_one(
            tx,
            function_external_id=function.external_id,
            project=project,
            function_id=function.id,
            name=body.name,
            description=body.description,
            cron_expression=body.cron_expression,
            data=body.data,
            session_id=bound.id,
            created_time=clock.now_ms(),
        )
        platform.notifier.tell_others(tx, Change.SCHEDULE_CREATED, [schedule.id])
        return schedule

    created = await projects.write_in(platform, project, unit)
    platform.notifier.schedule_created()
    return to_read(created)


async def list_schedules(
    platform: Platform,
    *,
    project: str,
    filter: ScheduleFilter | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ScheduleRead], str | None]:
    """A page of schedules matching `filter`, oldest first, and the cursor of the next page."""
    filter = filter or ScheduleFilter()
    query = ScheduleQuery(
        name=filter.name,
        function_id=filter.function_id,
        function_external_id=filter.function_external_id,
        cron_expression=filter.cron_expression,
        created_time=filter.created_time,
    )
    after_id = cursors.decode(cursor)
    found = await platform.db.run_read(
        lambda tx: schedules_store.list_where(
            tx, project=project, query=query, after_id=after_id, limit=limit + 1
        )
    )
    page, next_cursor = cursors.page(found, limit)
    return [to_read(schedule) for schedule in page], next_cursor


def _found(tx: Tx, *, project: str, ids: list[int], ignore_unknown: bool) -> list[ScheduleRecord]:
    """Schedules by id in request order; unknown ids are a 400 + missing unless ignored."""
    known = {s.id: s for s in schedules_store.get_many(tx, project=project, ids=ids)}
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in known]
    if missing and not ignore_unknown:
        raise errors.NotFound("Schedules not found", missing=missing)
    return [known[i] for i in dict.fromkeys(ids) if i in known]


async def retrieve(
    platform: Platform, *, project: str, ids: list[int], ignore_unknown: bool
) -> list[ScheduleRead]:
    found = await platform.db.run_read(
        lambda tx: _found(tx, project=project, ids=ids, ignore_unknown=ignore_unknown)
    )
    return [to_read(schedule) for schedule in found]


def released_session_grace(settings: Settings) -> timedelta:
    """How long a deleted schedule's session stays usable: for the calls it already made."""
    return session_ttl(settings)


async def delete(platform: Platform, *, project: str, ids: list[int], ignore_unknown: bool) -> None:
    """Delete schedules: no further ticks; their past calls stay."""
    grace = released_session_grace(platform.settings)

    def unit(tx: Tx) -> None:
        found = _found(tx, project=project, ids=ids, ignore_unknown=ignore_unknown)
        schedules_store.delete_many(tx, project=project, ids=[s.id for s in found])
        sessions.release(tx, session_ids=[s.session_id for s in found], grace=grace)

    await platform.db.run_write(unit)


def release_sessions_of_functions(tx: Tx, *, function_ids: Sequence[int], grace: timedelta) -> None:
    """Functions are being deleted, and their schedules with them: release their sessions."""
    session_ids = schedules_store.session_ids_of_functions(tx, function_ids=function_ids)
    sessions.release(tx, session_ids=session_ids, grace=grace)


async def input_data(platform: Platform, *, project: str, schedule_id: int) -> ScheduleInputData:
    """The data each of the schedule's calls gets (never part of list or retrieve)."""
    [schedule] = await platform.db.run_read(
        lambda tx: _found(tx, project=project, ids=[schedule_id], ignore_unknown=False)
    )
    return ScheduleInputData(id=schedule.id, data=schedule.data)


async def timings(platform: Platform) -> list[ScheduleTiming]:
    """Every schedule of every project, as the scheduler sees it."""
    found = await platform.db.run_read(schedules_store.timings)
    return [
        ScheduleTiming(id=id_, cron_expression=expression, created_time=clock.from_ms(created))
        for id_, expression, created in found
    ]


@dataclass(frozen=True)
class Fired:
    """What a pass of the scheduler did: the calls it created, and the schedules whose tick the
    overload limits refused."""

    call_ids: list[int]
    refused: list[int]


async def fire(platform: Platform, *, due: Mapping[int, datetime]) -> Fired:
    """Create the call of each (schedule, tick) in `due`, unless it exists already (made before
    a restart, or by another server on this database) or the overload limits refuse it (the
    tick is skipped, and logged: a later tick runs when there is room)."""
    by_tick: dict[datetime, list[int]] = defaultdict(list)
    for schedule_id, tick in due.items():
        by_tick[tick].append(schedule_id)

    def unit(tx: Tx) -> tuple[list[tuple[int, int]], dict[int, str]]:
        # Read inside the write transaction (on SQLite it holds the write lock from its start):
        # the calls' startTime is when they came to be. Schedules deleted meanwhile get no call:
        # their rows are copied here.
        now_ms = clock.now_ms()
        targets = schedules_store.targets(tx, ids=list(due))
        projects = sorted({project for project, _ in targets.values()})
        capacity = Capacity.of_functions(
            platform.settings.calls, calls_store.active_by_function(tx, projects=projects)
        )
        refused: dict[int, str] = {}
        created: list[tuple[int, int]] = []
        for tick, schedule_ids in by_tick.items():
            admitted = []
            for schedule_id in sorted(schedule_ids):
                if schedule_id not in targets:
                    continue
                if refusal := capacity.refusal(*targets[schedule_id]):
                    refused[schedule_id] = refusal
                else:
                    admitted.append(schedule_id)
            created += calls_store.insert_scheduled(
                tx,
                schedule_ids=admitted,
                scheduled_time=clock.to_ms(tick),
                start_time=now_ms,
            )
        function_ids = sorted({function_id for _, function_id in created})
        functions_store.touch_last_called(tx, function_ids=function_ids, at=now_ms)
        if created:
            platform.notifier.tell_others(tx, Change.CALL_QUEUED)
        return created, refused

    created, refused = await platform.db.run_write(unit)
    metrics.SCHEDULE_TICKS.labels("fired").inc(len(created))
    metrics.SCHEDULE_TICKS.labels("refused").inc(len(refused))
    if created:
        platform.notifier.call_queued()
    for schedule_id, refusal in refused.items():
        logger.warning(
            "schedule %d skipped its tick at %s: %s",
            schedule_id,
            due[schedule_id].isoformat(),
            refusal,
            extra={"action": "tick_refused", "schedule_id": schedule_id},
        )
    logger.info(
        "schedule ticks: %d due, %d calls created, %d refused by the limits (the others "
        "existed already)",
        len(due),
        len(created),
        len(refused),
        extra={
            "action": "ticks_fired",
            "ticks_due": len(due),
            "calls_created": len(created),
            "ticks_refused": len(refused),
        },
    )
    return Fired(call_ids=[call_id for call_id, _ in created], refused=sorted(refused))
