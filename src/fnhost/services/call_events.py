"""In-process signals that a call ended, for requests that hold their answer until it does.

Ends recorded by this process are signalled at once (services/endings.py); ends recorded by
another process are signalled when its notification is heard (services/listening.py, where the
database is shared), else a waiter times out and answers with what the database says.
"""

import asyncio

from fnhost.lifecycle import CallEnd


class CallEvents:
    """Futures keyed by call id, resolved when this process records the call's end."""

    def __init__(self) -> None:
        self._waiters: dict[int, list[asyncio.Future[CallEnd]]] = {}

    def watch(self, call_id: int) -> asyncio.Future[CallEnd]:
        """A future resolved when the call ends; `forget` it when no longer waiting."""
        future: asyncio.Future[CallEnd] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(call_id, []).append(future)
        return future

    def forget(self, call_id: int, future: asyncio.Future[CallEnd]) -> None:
        waiters = self._waiters.get(call_id, [])
        if future in waiters:
            waiters.remove(future)
        if not waiters:
            self._waiters.pop(call_id, None)

    def ended(self, call_id: int, end: CallEnd) -> None:
        for future in self._waiters.pop(call_id, []):
            if not future.done():
                future.set_result(end)

    def watched_ids(self) -> list[int]:
        """The calls someone waits for."""
        return list(self._waiters)

    @property
    def watched(self) -> int:
        """How many calls someone waits for (a leak shows here)."""
        return len(self._waiters)
