"""Retention: ended calls and expired sessions are deleted after FNHOST_CALL_RETENTION_DAYS."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from fnhost import clock
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import sessions as sessions_store
from fnhost.store.engine import Tx

# Rows per write transaction: short transactions, so requests are not held up meanwhile.
BATCH = 1000


@dataclass(frozen=True)
class Pruned:
    calls: int
    sessions: int


async def prune(platform: Platform, *, now: datetime) -> Pruned:
    """Delete the calls that ended, and the sessions that expired, before the retention."""
    days = platform.settings.retention.call_retention_days
    if days == 0:
        return Pruned(calls=0, sessions=0)
    cutoff = clock.to_ms(now - timedelta(days=days))
    calls = await _in_batches(
        platform, partial(calls_store.delete_ended_before, cutoff=cutoff, limit=BATCH)
    )
    sessions = await _in_batches(
        platform, partial(sessions_store.delete_expired_before, cutoff=cutoff, limit=BATCH)
    )
    return Pruned(calls=calls, sessions=sessions)


async def _in_batches(platform: Platform, delete_batch: Callable[[Tx], int]) -> int:
    """Run `delete_batch` in write transactions of its own until it deletes nothing."""
    deleted = 0
    while count := await platform.db.run_write(delete_batch):
        deleted += count
        await asyncio.sleep(0)  # let waiting requests in between batches
    return deleted
