"""Queries on what calls did, across a project: the console's timeline, rates and durations."""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, select

from fnhost.store.tables import Call, CallLog, table_of

CALLS = table_of(Call)
LOGS = table_of(CallLog)
_SUMMARY_COLUMNS = (
    CALLS.c.id,
    CALLS.c.function_id,
    CALLS.c.state,
    CALLS.c.start_time,
    CALLS.c.end_time,
    CALLS.c.schedule_id,
    CALLS.c.scheduled_time,
    CALLS.c.error_message,
)
# Built once: a live view asks every half second.
_LOGS_AFTER = (
    select(LOGS.c.id, LOGS.c.timestamp, LOGS.c.message)
    .where(LOGS.c.call_id == bindparam("call_id"), LOGS.c.id > bindparam("after_id"))
    .order_by(LOGS.c.id)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class CallSummary:
    """A call as lists show it (no data, response or trace). `state` is the internal one."""

    id: int
    function_id: int
    state: str
    start_time: int
    end_time: int | None
    schedule_id: int | None
    scheduled_time: int | None
    error_message: str | None


@dataclass(frozen=True)
class Bucket:
    """Calls that started in [start, start + width): how many, how many ended, how many failed."""

    start: int
    calls: int
    ended: int
    failed: int


@dataclass(frozen=True)
class Duration:
    function_id: int
    milliseconds: int


@dataclass(frozen=True)
class LogLine:
    id: int
    timestamp: int | None
    message: str


def _summaries(connection: Connection, query: Select[Any]) -> list[CallSummary]:
    return [
        CallSummary(
            id=row.id,
            function_id=row.function_id,
            state=row.state,
            start_time=row.start_time,
            end_time=row.end_time,
            schedule_id=row.schedule_id,
            scheduled_time=row.scheduled_time,
            error_message=row.error_message,
        )
        for row in connection.execute(query)
    ]


def last_calls(connection: Connection, *, function_ids: Collection[int]) -> list[CallSummary]:
    """The newest call of each of these functions (those that have one)."""
    newest = (
        select(func.max(CALLS.c.id))
        .where(CALLS.c.function_id.in_(function_ids))
        .group_by(CALLS.c.function_id)
    )
    return _summaries(
        connection, select(*_SUMMARY_COLUMNS).where(CALLS.c.id.in_(newest.scalar_subquery()))
    )


def project_calls(
    connection: Connection,
    *,
    project: str,
    since: int,
    until: int,
    function_id: int | None,
    states: Collection[str] | None,
    limit: int,
) -> list[CallSummary]:
    """Calls of the project that started in [since, until], newest first, at most `limit`."""
    query = select(*_SUMMARY_COLUMNS).where(
        CALLS.c.project == project, CALLS.c.start_time.between(since, until)
    )
    if function_id is not None:
        query = query.where(CALLS.c.function_id == function_id)
    if states is not None:
        query = query.where(CALLS.c.state.in_(states))
    return _summaries(
        connection, query.order_by(CALLS.c.start_time.desc(), CALLS.c.id.desc()).limit(limit)
    )


def buckets(
    connection: Connection,
    *,
    project: str,
    since: int,
    width_ms: int,
    failed_states: Collection[str],
) -> list[Bucket]:
    """Calls of the project since `since`, counted per `width_ms` of start time (empty buckets
    left out), oldest first."""
    index = CALLS.c.start_time // width_ms
    query = (
        select(
            index,
            func.count(),
            func.count(CALLS.c.end_time),
            func.coalesce(func.sum(case((CALLS.c.state.in_(failed_states), 1), else_=0)), 0),
        )
        .where(CALLS.c.project == project, CALLS.c.start_time >= since)
        .group_by(index)
        .order_by(index)
    )
    return [
        Bucket(start=int(i) * width_ms, calls=calls, ended=ended, failed=int(failed))
        for i, calls, ended, failed in connection.execute(query)
    ]


def durations(connection: Connection, *, project: str, ended_since: int) -> list[Duration]:
    """How long each call of the project that ended since `ended_since` took."""
    query = select(CALLS.c.function_id, CALLS.c.end_time - CALLS.c.start_time).where(
        CALLS.c.end_time >= ended_since, CALLS.c.project == project
    )
    return [Duration(function_id, int(ms)) for function_id, ms in connection.execute(query)]


def log_lines_after(
    connection: Connection, *, call_id: int, after_id: int, limit: int
) -> list[LogLine]:
    """The call's log lines with ids above `after_id`, oldest first, at most `limit`."""
    params = {"call_id": call_id, "after_id": after_id, "limit": limit}
    return [LogLine(*row) for row in connection.execute(_LOGS_AFTER, params)]
