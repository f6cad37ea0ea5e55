"""Queries on what calls did, across a project: the console's timeline, rates and durations."""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select

from fnhost.lifecycle import CallState
from fnhost.store.calls import CALLS, LOGS
from fnhost.store.engine import Tx
from fnhost.store.rows import record, records

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


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A call as lists show it (no data, response or trace)."""

    id: int
    function_id: int
    state: CallState
    start_time: int
    end_time: int | None
    schedule_id: int | None
    scheduled_time: int | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Calls that started in [start, start + width): how many, how many ended, how many failed."""

    start: int
    calls: int
    ended: int
    failed: int


@dataclass(frozen=True, slots=True)
class Duration:
    function_id: int
    milliseconds: int


@dataclass(frozen=True, slots=True)
class NumberedLogLine:
    """A log line with its id, where a live view goes on from."""

    id: int
    timestamp: int | None
    message: str


def _summaries(tx: Tx, query: Select[Any]) -> list[CallSummary]:
    return [record(CallSummary, row, state=CallState(row.state)) for row in tx.execute(query)]


def last_calls(tx: Tx, *, function_ids: Collection[int]) -> list[CallSummary]:
    """The newest call of each of these functions (those that have one)."""
    newest = (
        select(func.max(CALLS.c.id))
        .where(CALLS.c.function_id.in_(function_ids))
        .group_by(CALLS.c.function_id)
    )
    return _summaries(tx, select(*_SUMMARY_COLUMNS).where(CALLS.c.id.in_(newest.scalar_subquery())))


def project_calls(
    tx: Tx,
    *,
    project: str,
    since: int,
    until: int,
    function_id: int | None,
    states: Collection[CallState] | None,
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
    return _summaries(tx, query.order_by(CALLS.c.start_time.desc(), CALLS.c.id.desc()).limit(limit))


def buckets(
    tx: Tx,
    *,
    project: str,
    since: int,
    width_ms: int,
    failed_states: Collection[CallState],
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
        for i, calls, ended, failed in tx.execute(query)
    ]


def durations(tx: Tx, *, project: str, ended_since: int) -> list[Duration]:
    """How long each call of the project that ended since `ended_since` took."""
    query = select(CALLS.c.function_id, CALLS.c.end_time - CALLS.c.start_time).where(
        CALLS.c.end_time >= ended_since, CALLS.c.project == project
    )
    return [Duration(function_id, int(ms)) for function_id, ms in tx.execute(query)]


def log_lines_after(tx: Tx, *, call_id: int, after_id: int, limit: int) -> list[NumberedLogLine]:
    """The call's log lines with ids above `after_id`, oldest first, at most `limit`."""
    params = {"call_id": call_id, "after_id": after_id, "limit": limit}
    return records(NumberedLogLine, tx.execute(_LOGS_AFTER, params))
