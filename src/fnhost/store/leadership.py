"""The dispatchers' lock: a PostgreSQL advisory lock that only the active dispatcher holds, on a
connection of its own held for as long as it is active.

The server releases the lock when that connection ends: at once when the process dies (its
socket closes), within about 11 s when the process is cut off (TCP keepalives, store/
dedicated.py). The holder checks the connection every second and gives up dispatching as soon as
a check fails or takes over 5 s, so a dispatcher cut off from the database has stopped before
another one can take the lock: there are never two active dispatchers.
"""

import asyncio
import contextlib
import logging

from fnhost import timings
from fnhost.store.dedicated import LOST, Dedicated

logger = logging.getLogger(__name__)

# The advisory lock's key ("fnhost" in ASCII): one database, one active dispatcher.
KEY = 0x666E686F7374


class DispatcherLock:
    def __init__(self, url: str) -> None:
        self._connection = Dedicated(url, purpose="dispatcher lock")
        self._held = contextlib.AsyncExitStack()

    async def acquire(self) -> None:
        """Wait until this process holds the lock (it stands by meanwhile)."""
        while True:
            try:
                connection = await self._held.enter_async_context(self._connection.opened())
                while True:
                    if await connection.fetchval("SELECT pg_try_advisory_lock($1)", KEY):
                        return
                    await asyncio.sleep(timings.STANDBY_POLL_SECONDS)
            except LOST as error:
                logger.warning(
                    "cannot reach the database for the dispatchers' lock (%s): retrying",
                    error,
                    extra={"action": "lock_unreachable"},
                )
                await self._held.aclose()
                await asyncio.sleep(timings.CONNECTION_RETRY_SECONDS)

    async def lost(self) -> None:
        """Return when the lock can no longer be vouched for (its connection is gone)."""
        await self._connection.watch()

    async def release(self) -> None:
        """Give the lock up (its connection closes)."""
        await self._held.aclose()
