"""Queries on calls and their logs, including the dispatcher's claim of queued calls."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, literal, select, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Call, CallLog, Function, Schedule, Session

QUEUED = "queued"
RUNNING = "running"


async def insert(session: AsyncSession, **values: Any) -> Call:
    row = Call(**values)
    session.add(row)
    await session.flush()
    return row


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


async def get(
    session: AsyncSession, *, project: str, function_id: int, call_id: int
) -> Call | None:
    result = await session.execute(
        select(Call).where(
            Call.project == project, Call.function_id == function_id, Call.id == call_id
        )
    )
    return result.scalar_one_or_none()


async def get_many(
    session: AsyncSession, *, project: str, function_id: int, ids: Sequence[int]
) -> list[Call]:
    result = await session.execute(
        select(Call).where(
            Call.project == project, Call.function_id == function_id, Call.id.in_(ids)
        )
    )
    return list(result.scalars())


async def list_where(
    session: AsyncSession,
    *,
    project: str,
    function_id: int,
    conditions: Sequence[ColumnElement[bool]],
    before_id: int | None,
    limit: int,
) -> list[Call]:
    """Calls of a function matching every condition, newest first, older than `before_id`."""
    query = select(Call).where(
        Call.project == project, Call.function_id == function_id, *conditions
    )
    if before_id is not None:
        query = query.where(Call.id < before_id)
    result = await session.execute(query.order_by(Call.id.desc()).limit(limit))
    return list(result.scalars())


async def claim_queued(
    session: AsyncSession, *, limit: int, claimant: str
) -> list[tuple[Call, Function, Session | None]]:
    """Mark up to `limit` queued calls of Ready functions as running, oldest first; each with
    its function and its session (loaded in the same query: this runs for every call)."""
    query = (
        select(Call, Function, Session)
        .join(Function, Function.id == Call.function_id)
        .outerjoin(Session, Session.id == Call.session_id)
        .where(Call.state == QUEUED, Function.status == "Ready")
        .order_by(Call.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Call, skip_locked=True)
    claimed: list[tuple[Call, Function, Session | None]] = [
        (call, function, owner) for call, function, owner in await session.execute(query)
    ]
    if claimed:
        await session.execute(
            update(Call)
            .where(Call.id.in_([call.id for call, _, _ in claimed]))
            .values(state=RUNNING, claimed_by=claimant)
        )
    return claimed


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


async def finish(
    session: AsyncSession, *, call_id: int, from_states: Sequence[str], **values: Any
) -> bool:
    """Record a terminal outcome, unless the call already has one."""
    result = await session.execute(
        update(Call).where(Call.id == call_id, Call.state.in_(from_states)).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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


async def append_logs(
    session: AsyncSession, *, call_id: int, lines: Sequence[tuple[int, str]]
) -> None:
    await session.execute(
        sql_insert(CallLog),
        [{"call_id": call_id, "timestamp": ts, "message": message} for ts, message in lines],
    )


async def logs(session: AsyncSession, *, call_id: int) -> list[CallLog]:
    result = await session.execute(
        select(CallLog).where(CallLog.call_id == call_id).order_by(CallLog.id)
    )
    return list(result.scalars())


async def is_running(session: AsyncSession, *, call_id: int) -> bool:
    result = await session.execute(select(Call.state).where(Call.id == call_id))
    return result.scalar_one_or_none() == RUNNING
