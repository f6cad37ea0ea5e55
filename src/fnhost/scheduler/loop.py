"""The scheduler loop: sleeps until the next tick of any schedule, then creates the due calls.

Every server runs one; the database makes each tick create exactly one call however many
run. A poll bounds how long a schedule made by another server (or a jump of the wall clock)
goes unseen; schedules made by this server wake the loop at once.
"""

import asyncio
import contextlib
import logging
from datetime import datetime

from fnhost import clock
from fnhost.scheduler.plan import plan
from fnhost.services import schedules as schedules_service
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._poll_seconds = platform.settings.schedules.scheduler_poll_seconds
        self._upcoming: dict[int, datetime] = {}
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def tick(self, *, now: datetime) -> datetime | None:
        """Create the calls due at `now`; returns the next tick of any schedule."""
        schedules = await schedules_service.timings(self._platform)
        current = plan(schedules, upcoming=self._upcoming, now=now)
        if current.due:
            await schedules_service.fire(self._platform, due=current.due)
        # Only after the calls exist: a failed fire is retried on the next pass.
        self._upcoming = current.upcoming
        return current.next_wake()

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            self._wakeup.clear()
            try:
                next_tick = await self.tick(now=clock.now())
            except Exception:
                logger.exception("scheduler tick failed", extra={"action": "tick_failed"})
                next_tick = None
            delay = self._poll_seconds
            if next_tick is not None:
                delay = min(delay, (next_tick - clock.now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(delay, 0.0))
