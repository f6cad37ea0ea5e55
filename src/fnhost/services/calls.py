"""Calls as clients see them: create (durably, then started or queued), list, retrieve, response,
logs."""

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from fnhost import clock, errors, timings
from fnhost.auth.principal import Principal
from fnhost.lifecycle import CallEnd, CallState, FunctionStatus
from fnhost.schemas.calls import (
    CallCreate,
    CallError,
    CallFilter,
    CallNode,
    CallRead,
    CallResponse,
    LogEntry,
)
from fnhost.services import cursors, dispatch, endings, identity, sessions
from fnhost.services.capacity import Capacity
from fnhost.services.jobs import CallStarter
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store.calls import CallQuery, CallRecord
from fnhost.store.engine import Tx
from fnhost.store.functions import FunctionRecord
from fnhost.store.sessions import SessionRecord


def to_read(call: CallRecord) -> CallRead:
    error = None
    if call.error_message is not None:
        error = CallError(message=call.error_message, trace=call.error_trace or "")
    return CallRead(
        id=call.id,
        status=call.state.status,
        start_time=call.start_time,
        end_time=call.end_time,
        function_id=call.function_id,
        schedule_id=call.schedule_id,
        scheduled_time=call.scheduled_time,
        error=error,
    )


def _ended(read: CallRead, end: CallEnd) -> CallRead:
    """`read` (as created) updated with how the call ended."""
    error = None
    if end.error_message is not None:
        error = CallError(message=end.error_message, trace=end.error_trace or "")
    return read.model_copy(
        update={"status": end.state.status, "end_time": end.end_time, "error": error}
    )


def check_data_size(settings: Settings, data: Any, *, what: str) -> None:
    """Calls' `data` (also a schedule's) is capped by FNHOST_CALL_DATA_MAX_BYTES."""
    data_bytes = len(json.dumps(data).encode())
    limit = settings.calls.call_data_max_bytes
    if data_bytes > limit:
        raise errors.PayloadTooLarge(
            f"{what} is {data_bytes} bytes; the limit is {limit} (FNHOST_CALL_DATA_MAX_BYTES)"
        )


def session_ttl(settings: Settings) -> timedelta:
    """How long a call's session must last: queued a while, then run to its deadline."""
    seconds = settings.calls.call_timeout_seconds * 2 + timings.CALL_SESSION_MARGIN_SECONDS
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Stored:
    """A call as its transaction created it."""

    call: CallRecord
    function: FunctionRecord
    session: SessionRecord
    ended: endings.Ended | None  # at once: its function's deploy failed


async def create(
    platform: Platform,
    *,
    project: str,
    function_id: int,
    principal: Principal,
    body: CallCreate,
) -> CallRead:
    """Store the call (durable before this returns) and start it, or queue it for a dispatcher.

    With a free slot in this process's dispatcher, the call is stored as running and started
    here, with no claim by the dispatcher in between; otherwise it is queued. The answer waits
    up to FNHOST_CALL_WAIT_MS for the call to end: a quick call comes back ended, so the SDK's
    `call(wait=True)` needs no poll (it polls with sleeps of up to 0.3 s and more).
    """
    check_data_size(platform.settings, body.data, what="The call's data")
    wait_seconds = platform.settings.calls.call_wait_ms / 1000
    starter = platform.notifier.starter
    # A slot of this process's dispatcher, taken now so the call can be stored as running.
    slot = starter if starter is not None and starter.reserve() else None
    ttl = session_ttl(platform.settings)
    caller = identity.caller_identity(platform, principal)
    watching: list[tuple[int, asyncio.Future[CallEnd]]] = []

    def store(tx: Tx) -> _Stored:
        now = clock.now_ms()
        function = functions_store.get(tx, project=project, function_id=function_id)
        if function is None:
            raise errors.NotFound("Function not found", missing=[{"id": function_id}])
        in_project, in_function = calls_store.active_counts(
            tx, project=project, function_id=function_id
        )
        capacity = Capacity(
            platform.settings.calls,
            by_function={(project, function_id): in_function},
            by_project={project: in_project},
        )
        if refusal := capacity.refusal(project, function_id):
            raise errors.TooManyRequests(refusal)
        session = sessions.bind_or_capture(
            tx, project=project, nonce=body.nonce, caller=caller, ttl=ttl
        )
        runs_now = slot is not None and function.status == FunctionStatus.READY
        call = calls_store.insert_one(
            tx,
            project=project,
            function_id=function_id,
            state=CallState.RUNNING if runs_now else CallState.QUEUED,
            claimed_by=slot.claimant if runs_now and slot is not None else None,
            start_time=now,
            data=body.data,
            session_id=session.id,
        )
        functions_store.touch_last_called(tx, function_ids=[function_id], at=now)
        if wait_seconds > 0:
            # Watched before the commit, so that no end can slip by unseen.
            watching.append((call.id, platform.call_events.watch(call.id)))
        ended = None
        if function.status == FunctionStatus.FAILED:
            failed = endings.deploy_failed(function, at=now)
            ended = endings.end_in(tx, platform.notifier, call_ids=[call.id], end=failed)
        elif not runs_now:
            platform.notifier.tell_others(tx, Change.CALL_QUEUED)
        return _Stored(call, function, session, ended)

    async def store_and_hand_over() -> _Stored:
        try:
            stored = await platform.db.run_write(store)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if stored.call.state == CallState.RUNNING:
            assert slot is not None
            await _start(platform, slot, stored)
            return stored
        if slot is not None:
            slot.release()
        if stored.ended is not None:
            endings.announce(platform, stored.ended)
        else:
            platform.notifier.call_queued()
        return stored

    try:
        # Shielded: a call stored as running in this process's slot is started even if the
        # request is cancelled meanwhile (else it would stay running, with nothing running it).
        stored = await asyncio.shield(store_and_hand_over())
        read = to_read(stored.call)
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


async def _start(platform: Platform, slot: CallStarter, stored: _Stored) -> None:
    """Run a call stored as running in the dispatcher's reserved slot, or end it failed."""
    try:
        job = dispatch.call_job(platform, stored.call, stored.function, stored.session)
        job = await dispatch.with_upstream_token(platform, job, stored.session)
    except dispatch.Unstartable as error:
        slot.release()
        failed = CallEnd.failed(error.message, at=clock.now_ms())
        await endings.end(platform, call_ids=[stored.call.id], end=failed)
        return
    slot.start(job)


def _query(filter: CallFilter) -> CallQuery:
    return CallQuery(
        states=CallState.of_status(filter.status) if filter.status is not None else None,
        schedule_id=filter.schedule_id,
        start_time=filter.start_time,
        end_time=filter.end_time,
    )


def _require_function(tx: Tx, *, project: str, function_id: int) -> None:
    if functions_store.get(tx, project=project, function_id=function_id) is None:
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
    query = _query(filter or CallFilter())
    before_id = cursors.decode(cursor)

    def read(tx: Tx) -> list[CallRecord]:
        _require_function(tx, project=project, function_id=function_id)
        return calls_store.list_where(
            tx,
            project=project,
            function_id=function_id,
            query=query,
            before_id=before_id,
            limit=limit + 1,
        )

    found = await platform.db.run_read(read)
    page, next_cursor = cursors.page(found, limit)
    return [to_read(call) for call in page], next_cursor


async def retrieve(
    platform: Platform, *, project: str, function_id: int, ids: list[int], ignore_unknown: bool
) -> list[CallRead]:
    found = await platform.db.run_read(
        partial(calls_store.get_many, project=project, function_id=function_id, ids=ids)
    )
    known = {call.id: call for call in found}
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in known]
    if missing and not ignore_unknown:
        raise errors.NotFound("Function calls not found", missing=missing)
    return [to_read(known[i]) for i in dict.fromkeys(ids) if i in known]


async def nodes(
    platform: Platform, *, project: str, function_id: int, ids: list[int], ignore_unknown: bool
) -> list[CallNode]:
    """The node each call ran on (fnhost's own: the CDF call object has no such field)."""
    found = await platform.db.run_read(
        partial(calls_store.nodes_of, project=project, function_id=function_id, ids=ids)
    )
    missing = [{"id": i} for i in dict.fromkeys(ids) if i not in found]
    if missing and not ignore_unknown:
        raise errors.NotFound("Function calls not found", missing=missing)
    return [CallNode(id=i, node=found[i]) for i in dict.fromkeys(ids) if i in found]


def _get(tx: Tx, *, project: str, function_id: int, call_id: int) -> CallRecord:
    call = calls_store.get(tx, project=project, function_id=function_id, call_id=call_id)
    if call is None:
        # Say which of the two is unknown (only on this error path, not on every read).
        _require_function(tx, project=project, function_id=function_id)
        raise errors.NotFound(
            f"Function call {call_id} of function {function_id} not found",
            missing=[{"id": call_id}],
        )
    return call


async def get(platform: Platform, *, project: str, function_id: int, call_id: int) -> CallRead:
    return to_read(
        await platform.db.run_read(
            partial(_get, project=project, function_id=function_id, call_id=call_id)
        )
    )


async def response(
    platform: Platform, *, project: str, function_id: int, call_id: int
) -> CallResponse:
    """The call's JSON response; null until it completes, and for failed calls."""
    call = await platform.db.run_read(
        partial(_get, project=project, function_id=function_id, call_id=call_id)
    )
    value = json.loads(call.response) if call.response is not None else None
    return CallResponse(call_id=call.id, function_id=call.function_id, response=value)


async def logs(
    platform: Platform, *, project: str, function_id: int, call_id: int
) -> list[LogEntry]:
    """The call's log lines so far (also while it runs)."""

    def read(tx: Tx) -> list[calls_store.LogLine]:
        call = _get(tx, project=project, function_id=function_id, call_id=call_id)
        return calls_store.logs(tx, call_id=call.id)

    lines = await platform.db.run_read(read)
    return [LogEntry(timestamp=line.timestamp, message=line.message) for line in lines]
