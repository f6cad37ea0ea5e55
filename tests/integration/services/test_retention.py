"""Retention: ended calls (with their logs) and expired sessions go after the retention."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from fnhost import clock
from fnhost.services import retention
from fnhost.store import calls as calls_store
from fnhost.store import sessions as sessions_store
from tests.integration.apps import InProcess, in_process, ready_function

PROJECT = "retention"
DAY_MS = 24 * 3600 * 1000


async def _call(app: InProcess, function_id: int, *, state: str, end_time: int | None) -> int:
    """A call with one log line, stored directly (nothing runs in the test process)."""

    def store(connection: Connection) -> int:
        row = calls_store.insert_one(
            connection,
            project=PROJECT,
            function_id=function_id,
            state=state,
            start_time=(end_time or clock.to_ms(clock.now())) - 1000,
            end_time=end_time,
            data={},
        )
        calls_store.append_logs(connection, call_id=row.id, lines=[(row.start_time, "hi")])
        return int(row.id)

    return await app.platform.db.run_write(store)


async def _session(app: InProcess, *, expiration_time: int) -> int:
    values: dict[str, Any] = {
        "project": PROJECT,
        "type": "TOKEN_EXCHANGE",
        "status": "ACTIVE",
        "subject": "someone",
        "capabilities": [],
        "creation_time": expiration_time - DAY_MS,
        "expiration_time": expiration_time,
    }

    def store(connection: Connection) -> int:
        row = sessions_store.insert_one(connection, nonce_hash=str(expiration_time), **values)
        return int(row.id)

    return await app.platform.db.run_write(store)


async def _remaining(app: InProcess) -> tuple[set[int], int, set[int]]:
    def read(connection: Connection) -> tuple[set[int], int, set[int]]:
        calls = set(connection.execute(select(calls_store.CALLS.c.id)).scalars())
        logs = connection.execute(select(func.count()).select_from(calls_store.LOGS)).scalar()
        sessions = set(connection.execute(select(sessions_store.SESSIONS.c.id)).scalars())
        return calls, int(logs or 0), sessions

    return await app.platform.db.run_read(read)


async def test_calls_ended_and_sessions_expired_before_the_retention_are_deleted(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "data", call_retention_days=30) as app:
        function_id = await ready_function(app, PROJECT)
        now = clock.now()
        now_ms = clock.to_ms(now)
        old = await _call(app, function_id, state="completed", end_time=now_ms - 31 * DAY_MS)
        old_failed = await _call(app, function_id, state="failed", end_time=now_ms - 40 * DAY_MS)
        recent = await _call(app, function_id, state="completed", end_time=now_ms - 29 * DAY_MS)
        running = await _call(app, function_id, state="running", end_time=None)
        expired = await _session(app, expiration_time=now_ms - 31 * DAY_MS)
        lately_expired = await _session(app, expiration_time=now_ms - DAY_MS)
        held = await _session(app, expiration_time=2**53 - 1)

        pruned = await retention.prune(app.platform, now=now)

        assert pruned == retention.Pruned(calls=2, sessions=1)
        calls, logs, sessions = await _remaining(app)
        assert calls == {recent, running} and {old, old_failed}.isdisjoint(calls)
        assert logs == 2  # the deleted calls' logs went with them
        assert sessions == {lately_expired, held} and expired not in sessions


async def test_deletes_go_in_batches_and_zero_days_keeps_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with in_process(tmp_path / "data", call_retention_days=0) as app:
        function_id = await ready_function(app, PROJECT)
        long_ago = clock.to_ms(clock.now() - timedelta(days=3650))
        for _ in range(3):
            await _call(app, function_id, state="completed", end_time=long_ago)

        assert await retention.prune(app.platform, now=clock.now()) == retention.Pruned(0, 0)

    # The server starts again keeping a day of history: every call goes, two at a time.
    async with in_process(tmp_path / "data", call_retention_days=1) as app:
        monkeypatch.setattr(retention, "BATCH", 2)
        pruned = await retention.prune(app.platform, now=clock.now())
        assert pruned.calls == 3
        assert (await _remaining(app))[0] == set()
