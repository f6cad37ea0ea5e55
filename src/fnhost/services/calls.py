"""Calls as clients see them: create (durably queued), list, retrieve, response, logs."""

import asyncio
import json
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row

from fnhost import clock, errors
from fnhost.auth.principal import Principal
from fnhost.schemas.calls import (
    CallCreate,
    CallError,
    CallFilter,
    CallRead,
    CallResponse,
    LogEntry,
)
from fnhost.services import cursors, filters
from fnhost.services import dispatch as dispatch_service
from fnhost.services import sessions as sessions_service
from fnhost.services.call_events import CallEnd
from fnhost.services.platform import CallStarter, Platform
from fnhost.settings import Settings
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store.tables import Call

# Internal state -> the status clients see. A call is Running from creation until it ends,
# because the SDK's wait loop stops on any other value.
STATUS = {
    "queued": "Running",
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "timeout": "Timeout",
}
STATE = {
    "Completed": ["completed"],
    "Failed": ["failed"],
    "Timeout": ["timeout"],
    "Running": ["queued", "running"],
}


def to_read(row: Row[Any]) -> CallRead:
    error = None
    if row.error_message is not None:
        error = {"message": row.error_message, "trace": row.error_trace or ""}
    return CallRead.model_validate(
        {
            "id": row.id,
            "status": STATUS[row.state],
            "start_time": row.start_time,
            "end_time": row.end_time,
            "function_id": row.function_id,
            "schedule_id": row.schedule_id,
            "scheduled_time": row.scheduled_time,
            "error": error,
        }
    )


def check_data_size(settings: Settings, data: Any, *, what: str) -> None:
    """Calls' `data` (also a schedule's) is capped by FNHOST_CALL_DATA_MAX_BYTES."""
    data_bytes = len(json.dumps(data).encode())
    if data_bytes > settings.calls.call_data_max_bytes:
        raise errors.PayloadTooLarge(
            f"{what} is {data_bytes} bytes; the limit is "
            f"{settings.calls.call_data_max_bytes} (FNHOST_CALL_DATA_MAX_BYTES)"
        )


def session_ttl(settings: Settings) -> timedelta:
    """How long a call's session must last: queued a while, then run to its deadline."""
    return timedelta(seconds=settings.calls.call_timeout_seconds * 2 + 3600)


async def create(
    platform: Platform,
    *,
    project: str,
    function_id: int,
    principal: Principal,
    body: CallCreate,
    hold: bool = False,
) -> CallRead:
    """Store the call (durable before this returns) and start it, or queue it for a dispatcher.

    With a free slot in this process's dispatcher, the call is stored as running and started
    here, with no claim by the dispatcher in between; otherwise it is queued.
    """
    check_data_size(platform.settings, body.data, what="The call's data")
    # With `hold`, a call that ends within FNHOST_CALL_WAIT_MS is returned ended: the SDK's
    # `call(wait=True)` then needs no poll, and polls with sleeps of up to 0.3 s and more.
    wait_seconds = platform.settings.calls.call_wait_ms / 1000 if hold else 0
    starter = platform.call_starter
    # A slot of this process's dispatcher, taken now so the call can be stored as running.
    slot = starter if starter is not None and starter.reserve() else None
    ttl = session_ttl(platform.settings)
    watching: list[tuple[int, asyncio.Future[CallEnd]]] = []

    def store(connection: Connection) -> tuple[Row[Any], Row[Any], Row[Any]]:
        now = clock.now()
        function = functions_store.row_in_project(
            connection, project=project, function_id=function_id
        )
        if function is None:
            raise errors.NotFound("Function not found", missing=[{"id": function_id}])
        bound = sessions_service.bind_or_capture(
            connection, project=project, nonce=body.nonce, principal=principal, ttl=ttl
        )
        outcome: dict[str, Any] = {"state": calls_store.QUEUED}
        if function.status == "Failed":
            outcome = dispatch_service.failed_deploy(
                function.error_message, function.error_trace, at=now
            )
        elif slot is not None and function.status == "Ready":
            outcome = {"state": calls_store.RUNNING, "claimed_by": slot.claimant}
        call = calls_store.insert(
            connection,
            project=project,
            function_id=function_id,
            start_time=clock.to_ms(now),
            data=body.data,
            session_id=bound.id,
            **outcome,
        )
        functions_store.touch_last_called(connection, function_id=function_id, at=call.start_time)
        if wait_seconds > 0:
            # Watched before the commit, so that no end can slip by unseen.
            watching.append((call.id, platform.call_events.watch(call.id)))
        return call, function, bound

    async def store_and_hand_over() -> Row[Any]:
        try:
            call, function, bound = await platform.db.run_write(store)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if call.state == calls_store.RUNNING:
            assert slot is not None
            await _start(platform, slot, call, function, bound)
            return call
        if slot is not None:
            slot.release()
        if call.state == calls_store.QUEUED:
            platform.wake_dispatcher()
        return call

    try:
        # Shielded: a call stored as running in this process's slot is started even if the
        # request is cancelled meanwhile (else it would stay running, with nothing running it).
        read = to_read(await asyncio.shield(store_and_hand_over()))
        if not watching:
            return read
        try:
            end = await asyncio.wait_for(watching[-1][1], wait_seconds)
        except TimeoutError:
            return read  # still Running: the client polls as usual
        return _ended(read, end)
    finally:
        for call_id, future in watching:
            platform.call_events.forget(call_id, future)


async def _start(
    platform: Platform, slot: CallStarter, call: Row[Any], function: Row[Any], bound: Row[Any]
) -> None:
    """Run a call stored as running in the dispatcher's reserved slot, or end it failed."""
    try:
        job = dispatch_service.call_job(platform, call, function, bound)
    except dispatch_service.Unstartable as error:
        slot.release()
        outcome = dispatch_service.Outcome("failed", error_message=error.message, error_trace="")
        await dispatch_service.finish(platform, call_id=call.id, outcome=outcome)
        return
    slot.start(job)


def _ended(read: CallRead, end: CallEnd) -> CallRead:
    """`read` (as created) updated with how the call ended."""
    error = None
    if end.error_message is not None:
        error = CallError(message=end.error_message, trace=end.error_trace or "")
    return read.model_copy(
        update={"status": STATUS[end.state], "end_time": end.end_time, "error": error}
    )


def _conditions(filter: CallFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filter.status is not None:
        conditions.append(Call.state.in_(STATE[filter.status]))
    if filter.schedule_id is not None:
        conditions.append(Call.schedule_id == filter.schedule_id)
    conditions += filters.within(Call.start_time, filter.start_time)
    conditions += filters.within(Call.end_time, filter.end_time)
    return conditions


def _require_function(connection: Connection, *, project: str, function_id: int) -> None:
    if functions_store.row_in_project(connection, project=project, function_id=function_id):
        return
    raise errors.NotFound("Function not found", missing=[{"id": function_id}])


async def list_calls(
    platform: Platform,
    *,
    project: str,
    function_id: int,
    filter: CallFilter | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CallRead], str | None]:
    """A page of a function's calls, newest first, and the cursor of the next page."""
    conditions = _conditions(filter or CallFilter())
    before_id = cursors.decode(cursor)

    def read(connection: Connection) -> list[Row[Any]]:
        _require_function(connection, project=project, function_id=function_id)
        return calls_store.list_where(
            connection,
            project=project,
            function_id=function_id,
            conditions=conditions,
            before_id=before_id,
            limit=limit + 1,
        )

    rows = await platform.db.run_read(read)
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].id) if len(rows) > limit else None
    return [to_read(row) for row in page], next_cursor


async def retrieve(
    platform: Platform, *, project: str, function_id: int, ids: list[int], ignore_unknown: bool
) -> list[CallRead]:
    rows = await platform.db.run_read(
        partial(calls_store.get_many, project=project, function_id=function_id, ids=ids)
    )
    known = {row.id: row for row in rows}
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in known]
    if missing and not ignore_unknown:
        raise errors.NotFound("Function calls not found", missing=missing)
    return [to_read(known[i]) for i in dict.fromkeys(ids) if i in known]


def _get_row(connection: Connection, *, project: str, function_id: int, call_id: int) -> Row[Any]:
    row = calls_store.get(connection, project=project, function_id=function_id, call_id=call_id)
    if row is None:
        # Say which of the two is unknown (only on this error path, not on every read).
        _require_function(connection, project=project, function_id=function_id)
        raise errors.NotFound(
            f"Function call {call_id} of function {function_id} not found",
            missing=[{"id": call_id}],
        )
    return row


async def get(platform: Platform, *, project: str, function_id: int, call_id: int) -> CallRead:
    return to_read(
        await platform.db.run_read(
            partial(_get_row, project=project, function_id=function_id, call_id=call_id)
        )
    )


async def response(
    platform: Platform, *, project: str, function_id: int, call_id: int
) -> CallResponse:
    """The call's JSON response; null until it completes, and for failed calls."""
    row = await platform.db.run_read(
        partial(_get_row, project=project, function_id=function_id, call_id=call_id)
    )
    value = json.loads(row.response) if row.response is not None else None
    return CallResponse(call_id=row.id, function_id=row.function_id, response=value)


async def logs(
    platform: Platform, *, project: str, function_id: int, call_id: int
) -> list[LogEntry]:
    """The call's log lines so far (also while it runs)."""

    def read(connection: Connection) -> list[Row[Any]]:
        row = _get_row(connection, project=project, function_id=function_id, call_id=call_id)
        return calls_store.logs(connection, call_id=row.id)

    lines = await platform.db.run_read(read)
    return [LogEntry(timestamp=line.timestamp, message=line.message) for line in lines]
