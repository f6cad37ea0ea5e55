"""Queries on calls and their logs, including the dispatcher's claim of queued calls."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    String,
    bindparam,
    delete,
    literal,
    select,
    update,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Call, CallLog, Function, Schedule, Session, table_of

QUEUED = "queued"
RUNNING = "running"

CALLS = table_of(Call)
LOGS = table_of(CallLog)
FUNCTIONS = table_of(Function)
SESSIONS = table_of(Session)
# The statements of every call's life and of every poll, built once (building one costs more
# than running it).
_INSERT = sql_insert(CALLS).returning(*CALLS.c)
_OF_FUNCTION = (CALLS.c.project == bindparam("project")) & (
    CALLS.c.function_id == bindparam("function_id")
)
_GET = select(CALLS).where(_OF_FUNCTION, CALLS.c.id == bindparam("call_id"))
_GET_MANY = select(CALLS).where(_OF_FUNCTION, CALLS.c.id.in_(bindparam("ids", expanding=True)))
_STATE = select(CALLS.c.state).where(CALLS.c.id == bindparam("call_id"))
_LOGS = select(LOGS).where(LOGS.c.call_id == bindparam("call_id")).order_by(LOGS.c.id)
_APPEND_LOG = sql_insert(LOGS)
_FINISH = (
    update(CALLS)
    .where(CALLS.c.id == bindparam("call_id"), CALLS.c.state == RUNNING)
    # Not named after columns: an UPDATE keeps those names for its SET clause.
    .values(
        state=bindparam("ended_state"),
        end_time=bindparam("ended_time"),
        response=bindparam("ended_response"),
        error_message=bindparam("ended_message"),
        error_trace=bindparam("ended_trace"),
    )
)


def insert(connection: Connection, **values: Any) -> Row[Any]:
    return connection.execute(_INSERT, values).one()


# Schedules per INSERT statement, well under SQLite's limit on bound parameters.
SCHEDULED_BATCH = 10_000


async def insert_scheduled(
    session: AsyncSession, *, schedule_ids: Sequence[int], scheduled_time: int, start_time: int
) -> list[tuple[int, int]]:
    """Insert the call of tick `scheduled_time` of each schedule, with the schedule's project,
    function, data and session. A schedule whose call of that tick exists already (whoever made
    it) or that no longer exists is skipped. Returns (call id, function id) of the new calls."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created: list[tuple[int, int]] = []
    for start in range(0, len(schedule_ids), SCHEDULED_BATCH):
        # One INSERT ... SELECT: the database copies the rows; nothing per call in Python.
        source = select(
            Schedule.project,
            Schedule.function_id,
            literal(QUEUED, String),
            literal(start_time, BigInteger),
            Schedule.data,
            Schedule.session_id,
            Schedule.id,
            literal(scheduled_time, BigInteger),
        ).where(Schedule.id.in_(schedule_ids[start : start + SCHEDULED_BATCH]))
        statement = (
            insert(Call)
            .from_select(
                [
                    Call.project,
                    Call.function_id,
                    Call.state,
                    Call.start_time,
                    Call.data,
                    Call.session_id,
                    Call.schedule_id,
                    Call.scheduled_time,
                ],
                source,
            )
            .on_conflict_do_nothing(index_elements=["schedule_id", "scheduled_time"])
            .returning(Call.id, Call.function_id)
        )
        result = await session.execute(statement)
        created.extend((call_id, function_id) for call_id, function_id in result)
    return created


def get(connection: Connection, *, project: str, function_id: int, call_id: int) -> Row[Any] | None:
    params = {"project": project, "function_id": function_id, "call_id": call_id}
    return connection.execute(_GET, params).one_or_none()


def get_many(
    connection: Connection, *, project: str, function_id: int, ids: Sequence[int]
) -> list[Row[Any]]:
    params = {"project": project, "function_id": function_id, "ids": list(ids)}
    return list(connection.execute(_GET_MANY, params))


def list_where(
    connection: Connection,
    *,
    project: str,
    function_id: int,
    conditions: Sequence[ColumnElement[bool]],
    before_id: int | None,
    limit: int,
) -> list[Row[Any]]:
    """Calls of a function matching every condition, newest first, older than `before_id`."""
    query = select(CALLS).where(_OF_FUNCTION, *conditions)
    if before_id is not None:
        query = query.where(CALLS.c.id < before_id)
    params = {"project": project, "function_id": function_id}
    return list(connection.execute(query.order_by(CALLS.c.id.desc()).limit(limit), params))


def claim_queued(
    connection: Connection, *, limit: int, claimant: str
) -> list[tuple[Row[Any], Row[Any], Row[Any] | None]]:
    """Mark up to `limit` queued calls of Ready functions as running, oldest first; each with
    its function and its session."""
    query = (
        select(CALLS)
        .join(FUNCTIONS, FUNCTIONS.c.id == CALLS.c.function_id)
        .where(CALLS.c.state == QUEUED, FUNCTIONS.c.status == "Ready")
        .order_by(CALLS.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(of=CALLS, skip_locked=True)
    calls = list(connection.execute(query))
    if not calls:
        return []
    function_ids = {call.function_id for call in calls}
    functions = {
        row.id: row
        for row in connection.execute(select(FUNCTIONS).where(FUNCTIONS.c.id.in_(function_ids)))
    }
    session_ids = {call.session_id for call in calls if call.session_id is not None}
    sessions = {
        row.id: row
        for row in connection.execute(select(SESSIONS).where(SESSIONS.c.id.in_(session_ids)))
    }
    connection.execute(
        update(CALLS)
        .where(CALLS.c.id.in_([call.id for call in calls]))
        .values(state=RUNNING, claimed_by=claimant)
    )
    return [(call, functions[call.function_id], sessions.get(call.session_id)) for call in calls]


async def queued_of_failed_functions(session: AsyncSession) -> list[tuple[Call, Function]]:
    """Queued calls whose function's deploy failed: they can never run."""
    result = await session.execute(
        select(Call, Function)
        .join(Function, Function.id == Call.function_id)
        .where(Call.state == QUEUED, Function.status == "Failed")
    )
    return [(call, function) for call, function in result]


async def end_queued(session: AsyncSession, *, function_ids: Sequence[int], **values: Any) -> None:
    """End the queued calls of these functions with `values`."""
    await session.execute(
        update(Call)
        .where(Call.state == QUEUED, Call.function_id.in_(function_ids))
        .values(**values)
    )


def finish(
    connection: Connection,
    *,
    call_id: int,
    state: str,
    end_time: int,
    error_message: str | None,
    error_trace: str | None,
    response: str | None = None,
) -> bool:
    """Record the terminal outcome of a running call, unless it has ended already."""
    params = {
        "call_id": call_id,
        "ended_state": state,
        "ended_time": end_time,
        "ended_response": response,
        "ended_message": error_message,
        "ended_trace": error_trace,
    }
    return bool(connection.execute(_FINISH, params).rowcount)


async def finish_running_of(
    session: AsyncSession, *, claimants: Sequence[str], **values: Any
) -> list[int]:
    """End every running call claimed by one of `claimants`: their runner is gone."""
    query = select(Call.id).where(Call.state == RUNNING, Call.claimed_by.in_(claimants))
    ids = list((await session.execute(query)).scalars())
    if ids:
        await session.execute(update(Call).where(Call.id.in_(ids)).values(**values))
    return ids


async def running_claimants(session: AsyncSession) -> set[str]:
    query = select(Call.claimed_by).where(Call.state == RUNNING).distinct()
    return {claimant for claimant in (await session.execute(query)).scalars() if claimant}


def delete_ended_before(connection: Connection, *, cutoff: int, limit: int) -> int:
    """Delete up to `limit` calls that ended before `cutoff`, oldest first (their logs go with
    them); returns how many."""
    ids = select(CALLS.c.id).where(CALLS.c.end_time < cutoff).order_by(CALLS.c.end_time)
    statement = delete(CALLS).where(CALLS.c.id.in_(ids.limit(limit).scalar_subquery()))
    return connection.execute(statement).rowcount


def append_logs(connection: Connection, *, call_id: int, lines: Sequence[tuple[int, str]]) -> None:
    connection.execute(
        _APPEND_LOG,
        [{"call_id": call_id, "timestamp": ts, "message": message} for ts, message in lines],
    )


def logs(connection: Connection, *, call_id: int) -> list[Row[Any]]:
    return list(connection.execute(_LOGS, {"call_id": call_id}))


def is_running(connection: Connection, *, call_id: int) -> bool:
    return connection.execute(_STATE, {"call_id": call_id}).scalar_one_or_none() == RUNNING
