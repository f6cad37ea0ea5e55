"""Calls and their logs: their rows, the dispatcher's claim of queued calls, and ending calls."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    String,
    Update,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from fnhost.lifecycle import CallEnd, CallState, FunctionStatus
from fnhost.store import notifications as notifications_store
from fnhost.store.engine import Tx
from fnhost.store.functions import FUNCTIONS, FunctionRecord, function_record
from fnhost.store.queries import Between, within
from fnhost.store.rows import record
from fnhost.store.sessions import SESSIONS, SessionRecord, session_record
from fnhost.store.tables import Call, CallLog, Schedule, table_of

CALLS = table_of(Call)
LOGS = table_of(CallLog)
SCHEDULES = table_of(Schedule)
NOT_ENDED = (CallState.QUEUED, CallState.RUNNING)
# The condition, spelled with plain bound values: `state.in_(NOT_ENDED)` renders its values into
# the statement at each execution (a literal "expanding" parameter), which cost a call's hot
# statements 40-80 µs each.
_NOT_ENDED = (CALLS.c.state == CallState.QUEUED) | (CALLS.c.state == CallState.RUNNING)


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: int
    project: str
    function_id: int
    state: CallState
    start_time: int
    end_time: int | None
    data: Any
    response: str | None
    error_message: str | None
    error_trace: str | None
    session_id: int | None
    schedule_id: int | None
    scheduled_time: int | None
    claimed_by: str | None
    instance: str | None
    node: str | None


@dataclass(frozen=True, slots=True)
class EndedCall:
    """A call that was just ended: which one, and whose."""

    id: int
    project: str
    function_id: int


@dataclass(frozen=True, slots=True)
class LogLine:
    timestamp: int
    message: str


@dataclass(frozen=True)
class CallQuery:
    """Which calls of a function to list (every field given must match)."""

    states: tuple[CallState, ...] | None = None
    schedule_id: int | None = None
    start_time: Between | None = None
    end_time: Between | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A queued call the dispatcher claimed, with what starting it needs."""

    call: CallRecord
    function: FunctionRecord
    session: SessionRecord | None


def _call(row: Row[Any]) -> CallRecord:
    return record(CallRecord, row, state=CallState(row.state))


# The statements of every call's life and of every poll, built once (building one costs more
# than running it).
_INSERT = insert(CALLS).returning(*CALLS.c)
_OF_FUNCTION = (CALLS.c.project == bindparam("project")) & (
    CALLS.c.function_id == bindparam("function_id")
)
_GET = select(CALLS).where(_OF_FUNCTION, CALLS.c.id == bindparam("call_id"))
_GET_MANY = select(CALLS).where(_OF_FUNCTION, CALLS.c.id.in_(bindparam("ids", expanding=True)))
_STATE = select(CALLS.c.state).where(CALLS.c.id == bindparam("call_id"))
_LOGS = (
    select(LOGS.c.timestamp, LOGS.c.message)
    .where(LOGS.c.call_id == bindparam("call_id"))
    .order_by(LOGS.c.id)
)
_APPEND_LOG = insert(LOGS)
_END_VALUES: dict[str, Any] = {
    # Not named after columns: an UPDATE keeps those names for its SET clause.
    "state": bindparam("ended_state"),
    "end_time": bindparam("ended_time"),
    "response": bindparam("ended_response"),
    "error_message": bindparam("ended_message"),
    "error_trace": bindparam("ended_trace"),
}
_ENDED = (CALLS.c.id, CALLS.c.project, CALLS.c.function_id)
_END_ONE = (
    update(CALLS)
    .where(CALLS.c.id == bindparam("call_id"), _NOT_ENDED)
    .values(_END_VALUES)
    .returning(*_ENDED)
)
_END_MANY = (
    update(CALLS)
    .where(CALLS.c.id.in_(bindparam("call_ids", expanding=True)), _NOT_ENDED)
    .values(_END_VALUES)
    .returning(*_ENDED)
)
# A dispatcher's end of a call it runs: only while the call is still its own (a dispatcher that
# took over since decides instead).
_END_OWN = _END_ONE.where(CALLS.c.claimed_by == bindparam("claimant"))


def _telling(statement: Update) -> Select[Any]:
    """`statement` (an UPDATE returning `_ENDED`) that also notifies of each row it returns
    (notifications.EachTold), in the same statement: PostgreSQL only."""
    ended = statement.cte("ended")
    return select(*ended.c, notifications_store.told_each(ended.c.id))


_END_ONE_TOLD = _telling(_END_ONE)
_END_OWN_TOLD = _telling(_END_OWN)
_HAND_OVER = (
    update(CALLS)
    .where(
        CALLS.c.id == bindparam("call_id"),
        CALLS.c.state == CallState.RUNNING,
        CALLS.c.claimed_by == bindparam("claimant"),
    )
    .values(instance=bindparam("to_instance"), node=bindparam("to_node"))
)
_ENDS_OF = select(
    CALLS.c.id,
    CALLS.c.state,
    CALLS.c.end_time,
    CALLS.c.response,
    CALLS.c.error_message,
    CALLS.c.error_trace,
).where(CALLS.c.id.in_(bindparam("call_ids", expanding=True)), ~_NOT_ENDED)


_ACTIVE = select(
    func.count(), func.count().filter(CALLS.c.function_id == bindparam("function_id"))
).where(_NOT_ENDED, CALLS.c.project == bindparam("project"))


def active_counts(tx: Tx, *, project: str, function_id: int) -> tuple[int, int]:
    """How many calls have not ended (queued or running) in `project`, and of the function."""
    in_project, in_function = tx.execute(
        _ACTIVE, {"project": project, "function_id": function_id}
    ).one()
    return int(in_project), int(in_function)


def active_by_function(tx: Tx, *, projects: Sequence[str]) -> dict[tuple[str, int], int]:
    """How many calls have not ended, per (project, function id), in `projects`."""
    query = (
        select(CALLS.c.project, CALLS.c.function_id, func.count())
        .where(_NOT_ENDED, CALLS.c.project.in_(projects))
        .group_by(CALLS.c.project, CALLS.c.function_id)
    )
    return {(project, function_id): count for project, function_id, count in tx.execute(query)}


def insert_one(tx: Tx, **values: Any) -> CallRecord:
    return _call(tx.execute(_INSERT, values).one())


# Schedules per INSERT statement, well under SQLite's limit on bound parameters.
SCHEDULED_BATCH = 10_000


def insert_scheduled(
    tx: Tx, *, schedule_ids: Sequence[int], scheduled_time: int, start_time: int
) -> list[tuple[int, int]]:
    """Insert the call of tick `scheduled_time` of each schedule, with the schedule's project,
    function, data and session. A schedule whose call of that tick exists already (whoever made
    it) or that no longer exists is skipped. Returns (call id, function id) of the new calls."""
    dialect_insert = postgresql.insert if tx.dialect.name == "postgresql" else sqlite.insert
    created: list[tuple[int, int]] = []
    for start in range(0, len(schedule_ids), SCHEDULED_BATCH):
        # One INSERT ... SELECT: the database copies the rows; nothing per call in Python.
        source = select(
            SCHEDULES.c.project,
            SCHEDULES.c.function_id,
            literal(CallState.QUEUED.value, String),
            literal(start_time, BigInteger),
            SCHEDULES.c.data,
            SCHEDULES.c.session_id,
            SCHEDULES.c.id,
            literal(scheduled_time, BigInteger),
        ).where(SCHEDULES.c.id.in_(schedule_ids[start : start + SCHEDULED_BATCH]))
        statement = (
            dialect_insert(CALLS)
            .from_select(
                [
                    "project",
                    "function_id",
                    "state",
                    "start_time",
                    "data",
                    "session_id",
                    "schedule_id",
                    "scheduled_time",
                ],
                source,
            )
            .on_conflict_do_nothing(index_elements=["schedule_id", "scheduled_time"])
            .returning(CALLS.c.id, CALLS.c.function_id)
        )
        created.extend((call_id, function_id) for call_id, function_id in tx.execute(statement))
    return created


def get(tx: Tx, *, project: str, function_id: int, call_id: int) -> CallRecord | None:
    params = {"project": project, "function_id": function_id, "call_id": call_id}
    row = tx.execute(_GET, params).one_or_none()
    return None if row is None else _call(row)


def get_many(tx: Tx, *, project: str, function_id: int, ids: Sequence[int]) -> list[CallRecord]:
    if len(ids) == 1:
        # The common case, a client polling its call: a statement without an expanding list,
        # whose rendering at each execution costs more than the query.
        call = get(tx, project=project, function_id=function_id, call_id=ids[0])
        return [] if call is None else [call]
    params = {"project": project, "function_id": function_id, "ids": list(ids)}
    return [_call(row) for row in tx.execute(_GET_MANY, params)]


def list_where(
    tx: Tx, *, project: str, function_id: int, query: CallQuery, before_id: int | None, limit: int
) -> list[CallRecord]:
    """Calls of a function matching `query`, newest first, older than `before_id`."""
    statement = select(CALLS).where(_OF_FUNCTION)
    if query.states is not None:
        statement = statement.where(CALLS.c.state.in_(query.states))
    if query.schedule_id is not None:
        statement = statement.where(CALLS.c.schedule_id == query.schedule_id)
    statement = statement.where(
        *within(CALLS.c.start_time, query.start_time), *within(CALLS.c.end_time, query.end_time)
    )
    if before_id is not None:
        statement = statement.where(CALLS.c.id < before_id)
    statement = statement.order_by(CALLS.c.id.desc()).limit(limit)
    params = {"project": project, "function_id": function_id}
    return [_call(row) for row in tx.execute(statement, params)]


_RUNNABLE = (
    select(CALLS.c.id)
    .join(FUNCTIONS, FUNCTIONS.c.id == CALLS.c.function_id)
    .where(CALLS.c.state == CallState.QUEUED, FUNCTIONS.c.status == FunctionStatus.READY)
    .order_by(CALLS.c.id)
    .limit(bindparam("limit"))
)


def _claim_statement() -> Select[Any]:
    """PostgreSQL's claim, one statement: lock up to `limit` runnable calls that no other
    transaction holds (SKIP LOCKED: dispatchers never wait for each other), mark them running,
    and return each with its function's and its session's columns (prefixed c_, f_, s_)."""
    runnable = _RUNNABLE.with_for_update(of=CALLS, skip_locked=True).scalar_subquery()
    claimed = (
        update(CALLS)
        .where(CALLS.c.id.in_(runnable))
        .values(state=CallState.RUNNING, claimed_by=bindparam("claimant"))
        .returning(*CALLS.c)
        .cte("claimed")
    )
    return (
        select(
            *(column.label(f"c_{column.name}") for column in claimed.c),
            *(column.label(f"f_{column.name}") for column in FUNCTIONS.c),
            *(column.label(f"s_{column.name}") for column in SESSIONS.c),
        )
        .join_from(claimed, FUNCTIONS, FUNCTIONS.c.id == claimed.c.function_id)
        .outerjoin(SESSIONS, SESSIONS.c.id == claimed.c.session_id)
        .order_by(claimed.c.id)
    )


_CLAIM = _claim_statement()


def _claimed(row: Row[Any]) -> Claimed:
    columns = row._mapping
    call = {column.name: columns[f"c_{column.name}"] for column in CALLS.c}
    function = {column.name: columns[f"f_{column.name}"] for column in FUNCTIONS.c}
    session = {column.name: columns[f"s_{column.name}"] for column in SESSIONS.c}
    return Claimed(
        call=CallRecord(**{**call, "state": CallState(call["state"])}),
        function=FunctionRecord(**{**function, "status": FunctionStatus(function["status"])}),
        session=SessionRecord(**session) if session["id"] is not None else None,
    )


def claim_queued(tx: Tx, *, limit: int, claimant: str) -> list[Claimed]:
    """Mark up to `limit` queued calls of Ready functions as running, oldest first; each with
    its function and its session."""
    if tx.dialect.name == "postgresql":
        return [_claimed(row) for row in tx.execute(_CLAIM, {"limit": limit, "claimant": claimant})]
    # SQLite: the writer holds the database's write lock (BEGIN IMMEDIATE); its statements cost
    # microseconds, and it has no UPDATE in a WITH.
    calls = [
        _call(row) for row in tx.execute(_RUNNABLE.with_only_columns(*CALLS.c), {"limit": limit})
    ]
    if not calls:
        return []
    function_ids = {call.function_id for call in calls}
    functions = {
        row.id: function_record(row)
        for row in tx.execute(select(FUNCTIONS).where(FUNCTIONS.c.id.in_(function_ids)))
    }
    session_ids = {call.session_id for call in calls if call.session_id is not None}
    sessions = {
        row.id: session_record(row)
        for row in tx.execute(select(SESSIONS).where(SESSIONS.c.id.in_(session_ids)))
    }
    tx.execute(
        update(CALLS)
        .where(CALLS.c.id.in_([call.id for call in calls]))
        .values(state=CallState.RUNNING, claimed_by=claimant)
    )
    return [
        Claimed(
            call=call,
            function=functions[call.function_id],
            session=sessions.get(call.session_id) if call.session_id is not None else None,
        )
        for call in calls
    ]


def queued_of_functions(tx: Tx, *, function_ids: Sequence[int]) -> list[int]:
    query = select(CALLS.c.id).where(
        CALLS.c.state == CallState.QUEUED, CALLS.c.function_id.in_(function_ids)
    )
    return list(tx.execute(query).scalars())


def queued_of_failed_functions(tx: Tx) -> list[tuple[FunctionRecord, list[int]]]:
    """Functions whose deploy failed, each with the ids of its queued calls: they can never
    run."""
    query = (
        select(CALLS.c.id, CALLS.c.function_id)
        .join(FUNCTIONS, FUNCTIONS.c.id == CALLS.c.function_id)
        .where(CALLS.c.state == CallState.QUEUED, FUNCTIONS.c.status == FunctionStatus.FAILED)
    )
    by_function: dict[int, list[int]] = defaultdict(list)
    for call_id, function_id in tx.execute(query):
        by_function[function_id].append(call_id)
    if not by_function:
        return []
    functions = tx.execute(select(FUNCTIONS).where(FUNCTIONS.c.id.in_(by_function)))
    return [(function_record(row), by_function[row.id]) for row in functions]


def end(
    tx: Tx,
    *,
    call_ids: Sequence[int],
    ended: CallEnd,
    claimant: str | None = None,
    told: notifications_store.EachTold | None = None,
) -> list[EndedCall]:
    """End the calls among `call_ids` that have not ended (queued or running) as `ended` says;
    returns those it ended. A call ends once: whoever ends it first decides how. With
    `claimant`, only a call that dispatcher still holds (one call). With `told` (PostgreSQL, one
    call), the same statement notifies other processes of the call it ended."""
    params = {
        "ended_state": ended.state,
        "ended_time": ended.end_time,
        "ended_response": ended.response,
        "ended_message": ended.error_message,
        "ended_trace": ended.error_trace,
        **(told.params if told is not None else {}),
    }
    if claimant is not None:
        (call_id,) = call_ids
        statement = _END_OWN if told is None else _END_OWN_TOLD
        rows = tx.execute(statement, {**params, "call_id": call_id, "claimant": claimant})
    elif len(call_ids) == 1:  # the common case, every call's end: a statement without expansion
        statement = _END_ONE if told is None else _END_ONE_TOLD
        rows = tx.execute(statement, {**params, "call_id": call_ids[0]})
    elif call_ids:
        if told is not None:
            raise ValueError("calls' ends tell other processes by themselves one at a time")
        rows = tx.execute(_END_MANY, {**params, "call_ids": list(call_ids)})
    else:
        return []
    return [EndedCall(row.id, row.project, row.function_id) for row in rows]


def ends_of(tx: Tx, *, call_ids: Sequence[int]) -> dict[int, CallEnd]:
    """How those of `call_ids` that have ended ended."""
    return {
        row.id: CallEnd(
            CallState(row.state),
            row.end_time,
            response=row.response,
            error_message=row.error_message,
            error_trace=row.error_trace,
        )
        for row in tx.execute(_ENDS_OF, {"call_ids": list(call_ids)})
    }


def hand_over(tx: Tx, *, call_id: int, claimant: str, instance: str, node: str) -> bool:
    """Record where a running call is handed, before it is; False when `claimant` no longer
    holds the call (another dispatcher took over): then it must not be handed anywhere."""
    params = {
        "call_id": call_id,
        "claimant": claimant,
        "to_instance": instance,
        "to_node": node,
    }
    return bool(tx.execute(_HAND_OVER, params).rowcount)


def take_over(tx: Tx, *, claimant: str) -> list[CallRecord]:
    """Make every running call of other dispatchers `claimant`'s own (the one active dispatcher
    takes over what the earlier ones left); returns them."""
    statement = (
        update(CALLS)
        .where(
            CALLS.c.state == CallState.RUNNING,
            CALLS.c.claimed_by.is_distinct_from(claimant),
        )
        .values(claimed_by=claimant)
        .returning(*CALLS.c)
    )
    return [_call(row) for row in tx.execute(statement)]


def requeue(tx: Tx, *, call_ids: Sequence[int]) -> list[int]:
    """Put running calls that never started back in the queue; returns those requeued."""
    statement = (
        update(CALLS)
        .where(CALLS.c.id.in_(call_ids), CALLS.c.state == CallState.RUNNING)
        .values(state=CallState.QUEUED, claimed_by=None, instance=None, node=None)
        .returning(CALLS.c.id)
    )
    return list(tx.execute(statement).scalars())


def nodes_of(
    tx: Tx, *, project: str, function_id: int, ids: Sequence[int]
) -> dict[int, str | None]:
    """The node each of the function's calls `ids` was handed to (None: not handed to a node)."""
    query = select(CALLS.c.id, CALLS.c.node).where(_OF_FUNCTION, CALLS.c.id.in_(ids))
    params = {"project": project, "function_id": function_id}
    return {row.id: row.node for row in tx.execute(query, params)}


def running_of(tx: Tx, *, claimants: Sequence[str]) -> list[int]:
    """The running calls claimed by one of `claimants`."""
    query = select(CALLS.c.id).where(
        CALLS.c.state == CallState.RUNNING, CALLS.c.claimed_by.in_(claimants)
    )
    return list(tx.execute(query).scalars())


def not_ended_by_state(tx: Tx) -> dict[CallState, int]:
    """How many calls are queued, and running, in the whole database."""
    query = select(CALLS.c.state, func.count()).where(_NOT_ENDED).group_by(CALLS.c.state)
    counts = dict.fromkeys(NOT_ENDED, 0)
    counts.update({CallState(state): count for state, count in tx.execute(query)})
    return counts


def running_claimants(tx: Tx) -> set[str]:
    query = select(CALLS.c.claimed_by).where(CALLS.c.state == CallState.RUNNING).distinct()
    return {claimant for claimant in tx.execute(query).scalars() if claimant}


def delete_ended_before(tx: Tx, *, cutoff: int, limit: int) -> int:
    """Delete up to `limit` calls that ended before `cutoff`, oldest first (their logs go with
    them); returns how many."""
    ids = select(CALLS.c.id).where(CALLS.c.end_time < cutoff).order_by(CALLS.c.end_time)
    statement = delete(CALLS).where(CALLS.c.id.in_(ids.limit(limit).scalar_subquery()))
    return tx.execute(statement).rowcount


def append_logs(tx: Tx, *, call_id: int, lines: Sequence[tuple[int, str]]) -> None:
    tx.execute(
        _APPEND_LOG,
        [{"call_id": call_id, "timestamp": ts, "message": message} for ts, message in lines],
    )


def logs(tx: Tx, *, call_id: int) -> list[LogLine]:
    rows = tx.execute(_LOGS, {"call_id": call_id})
    return [LogLine(timestamp, message) for timestamp, message in rows]


def is_running(tx: Tx, *, call_id: int) -> bool:
    return tx.execute(_STATE, {"call_id": call_id}).scalar_one_or_none() == CallState.RUNNING
