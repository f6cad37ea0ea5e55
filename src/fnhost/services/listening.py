"""What other processes on a shared database (PostgreSQL) changed, heard as they commit: their
notifications wake this process's parts (services/notifier.py), and the end of a call another
process recorded reaches the requests here that hold their answer for it."""

import asyncio
from functools import partial

from fnhost.services import endings
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import notifications as notifications_store


async def listen(platform: Platform) -> None:
    """Until cancelled: act on other processes' changes."""
    ended: asyncio.Queue[list[int]] = asyncio.Queue()

    def heard(payload: str) -> None:
        change = platform.notifier.heard(payload)
        if change is None or change.change != Change.CALLS_ENDED:
            return
        told = endings.heard_end(change.detail)
        if told is None:  # its error is in the database
            ended.put_nowait(change.ids)
            return
        for call_id in change.ids:
            platform.call_events.ended(call_id, told)

    def connected() -> None:
        # Whatever was sent while no one listened is looked for now.
        platform.notifier.wake_all()
        ended.put_nowait(platform.call_events.watched_ids())

    listener = notifications_store.Listener(platform.db.url, heard=heard, connected=connected)
    listening = asyncio.create_task(listener.run())
    try:
        while True:
            call_ids = await ended.get()
            while not ended.empty():  # one read for every end heard meanwhile
                call_ids += ended.get_nowait()
            await _tell_waiters(platform, call_ids)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def _tell_waiters(platform: Platform, call_ids: list[int]) -> None:
    """Hand the ends of those of `call_ids` someone here waits for to their waiters."""
    watched = set(platform.call_events.watched_ids())
    waited = [call_id for call_id in dict.fromkeys(call_ids) if call_id in watched]
    if not waited:
        return

    ends = await platform.db.run_read(partial(calls_store.ends_of, call_ids=waited))
    for call_id, end in ends.items():
        platform.call_events.ended(call_id, end)
