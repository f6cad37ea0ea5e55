"""The dispatcher's claim of queued calls, on SQLite and PostgreSQL (there in one statement):
the oldest runnable calls, each with its function and session, marked running; on PostgreSQL a
call another transaction holds is skipped, not waited for. A call's end on PostgreSQL tells
other processes in the statement that records it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from fnhost.lifecycle import CallEnd, CallState, FunctionStatus
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store import notifications as notifications_store
from fnhost.store import sessions as sessions_store
from fnhost.store.engine import Database, Tx
from tests.postgres import fresh_database


@contextlib.asynccontextmanager
async def _migrated(url: str) -> AsyncIterator[Database]:
    database = Database(url, sqlite_lock_wait_seconds=5, pool_size=2, ping_idle_seconds=5)
    try:
        await database.migrate()
        yield database
    finally:
        await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        async with _migrated(f"sqlite:///{tmp_path / 'fnhost.db'}") as database:
            yield database
        return
    with fresh_database() as url:
        async with _migrated(url) as database:
            yield database


@pytest.fixture
async def postgres_db() -> AsyncIterator[Database]:
    with fresh_database() as url:
        async with _migrated(url) as database:
            yield database


def _function(tx: Tx, *, status: FunctionStatus) -> int:
    function = functions_store.insert_one(
        tx,
        project="p",
        name=f"f-{status}",
        file_id=1,
        code_digest="0" * 64,
        function_path="handler.py",
        cpu=0.25,
        memory=0.5,
        runtime="py312",
        status=status,
        created_time=1,
    )
    return function.id


def _queued(tx: Tx, *, function_id: int, session_id: int | None) -> int:
    call = calls_store.insert_one(
        tx,
        project="p",
        function_id=function_id,
        state=CallState.QUEUED,
        start_time=2,
        data={"x": 1},
        session_id=session_id,
    )
    return call.id


async def _setup(db: Database) -> tuple[int, int, list[int]]:
    """A Ready function with three queued calls (the second without a session), and a queued
    call of a function not Ready yet; (ready function id, session id, the three calls' ids)."""

    def unit(tx: Tx) -> tuple[int, int, list[int]]:
        ready = _function(tx, status=FunctionStatus.READY)
        deploying = _function(tx, status=FunctionStatus.DEPLOYING)
        session = sessions_store.insert_one(
            tx,
            project="p",
            type="TOKEN_EXCHANGE",
            status="ACTIVE",
            nonce_hash="1" * 64,
            subject="someone",
            capabilities=[],
            creation_time=1,
            expiration_time=10**13,
        )
        _queued(tx, function_id=deploying, session_id=session.id)
        calls = [
            _queued(tx, function_id=ready, session_id=session_id)
            for session_id in (session.id, None, session.id)
        ]
        return ready, session.id, calls

    return await db.run_write(unit)


async def test_claim_takes_the_oldest_runnable_calls_with_their_function_and_session(
    db: Database,
) -> None:
    ready, session_id, (first, second, third) = await _setup(db)

    claimed = await db.run_write(lambda tx: calls_store.claim_queued(tx, limit=2, claimant="d1"))

    assert [each.call.id for each in claimed] == [first, second]
    assert all(each.function.id == ready for each in claimed)
    assert claimed[0].function.status == FunctionStatus.READY
    assert claimed[0].call.data == {"x": 1}
    assert claimed[0].session is not None and claimed[0].session.id == session_id
    assert claimed[1].session is None
    running = await db.run_read(lambda tx: calls_store.running_of(tx, claimants=["d1"]))
    assert sorted(running) == [first, second]

    rest = await db.run_write(lambda tx: calls_store.claim_queued(tx, limit=5, claimant="d1"))
    assert [each.call.id for each in rest] == [third]  # the other function is not Ready
    assert await db.run_write(lambda tx: calls_store.claim_queued(tx, limit=5, claimant="d1")) == []


async def test_claim_on_postgres_skips_calls_another_transaction_holds(
    postgres_db: Database,
) -> None:
    db = postgres_db
    _, _, (first, second, third) = await _setup(db)
    other = await asyncpg.connect(db.url.replace("+asyncpg", ""))
    try:
        async with other.transaction():
            await other.execute("SELECT 1 FROM calls WHERE id = $1 FOR UPDATE", first)

            claimed = await db.run_write(
                lambda tx: calls_store.claim_queued(tx, limit=5, claimant="d1")
            )

            assert [each.call.id for each in claimed] == [second, third]
    finally:
        await other.close()


async def test_end_on_postgres_tells_other_processes_of_the_call_it_ended(
    postgres_db: Database,
) -> None:
    db = postgres_db
    _, _, (first, second, _) = await _setup(db)
    await db.run_write(lambda tx: calls_store.claim_queued(tx, limit=2, claimant="d1"))
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db.url.replace("+asyncpg", ""))
    await listener.add_listener(
        notifications_store.CHANNEL, lambda *args: heard.put_nowait(args[-1])
    )
    told = notifications_store.EachTold("origin calls_ended ", " completed:5")
    completed = CallEnd(CallState.COMPLETED, 5, response="{}")
    try:
        # The first end wins; a dispatcher that no longer holds the call ends nothing.
        for call_id, claimant, ends in (
            (first, "d1", True),
            (first, "d1", False),
            (second, "d2", False),
            (second, None, True),
        ):
            ended = await db.run_write(
                lambda tx, call_id=call_id, claimant=claimant: calls_store.end(
                    tx, call_ids=[call_id], ended=completed, claimant=claimant, told=told
                )
            )
            assert [call.id for call in ended] == ([call_id] if ends else [])

        payloads = [await asyncio.wait_for(heard.get(), 5) for _ in range(2)]
        assert payloads == [
            f"origin calls_ended {call_id} completed:5" for call_id in (first, second)
        ]
        await asyncio.sleep(0.2)
        assert heard.empty()  # nothing told of the ends that ended nothing
    finally:
        await listener.close()
