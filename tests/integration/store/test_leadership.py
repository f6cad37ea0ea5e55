"""The dispatchers' lock on PostgreSQL: one holder at a time; a waiting one gets it once the
holder's connection is gone, and the holder learns at once that it lost it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from fnhost.store.leadership import DispatcherLock
from tests.postgres import fresh_database, query

# Longest a lock changes hands here once its holder's connection is gone.
HANDOVER_SECONDS = 10


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


async def test_one_holds_the_lock_and_another_takes_it_when_its_connection_goes(
    database_url: str,
) -> None:
    holder, standby = DispatcherLock(database_url), DispatcherLock(database_url)
    try:
        await holder.acquire()
        waiting = asyncio.create_task(standby.acquire())
        lost = asyncio.create_task(holder.lost())
        done, _ = await asyncio.wait({waiting, lost}, timeout=1)
        assert not done  # the standby waits; the holder holds

        # The holder's connection ends (its process died, or the network cut it off).
        await query(
            database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'",
        )
        await asyncio.wait_for(lost, HANDOVER_SECONDS)
        await asyncio.wait_for(waiting, HANDOVER_SECONDS)
        (held,) = await query(
            database_url,
            "SELECT count(*) AS holders FROM pg_locks WHERE locktype = 'advisory' AND granted",
        )
        assert held["holders"] == 1
    finally:
        for lock in (holder, standby):
            with contextlib.suppress(Exception):
                await lock.release()
