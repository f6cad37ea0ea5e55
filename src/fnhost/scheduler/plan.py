"""Which ticks are due now, pure: schedules and their upcoming ticks in, due ticks out.

A schedule seen for the first time (new, or this process just started) gets its latest tick
since it was created, if any: that catches up a tick missed while no server ran, without
replaying older ones. Creating a call is idempotent per tick (the database refuses a second
call for one (schedule, tick)), so catching up a tick that did fire changes nothing.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from fnhost import cron
from fnhost.services.schedules import ScheduleTiming


@dataclass(frozen=True)
class Plan:
    """The tick to fire per schedule id, and each schedule's next tick after now."""

    due: dict[int, datetime]
    upcoming: dict[int, datetime]

    def next_wake(self) -> datetime | None:
        return min(self.upcoming.values(), default=None)


def plan(
    schedules: Iterable[ScheduleTiming], *, upcoming: Mapping[int, datetime], now: datetime
) -> Plan:
    """Due ticks at `now`, given each known schedule's upcoming tick from the previous plan."""
    due: dict[int, datetime] = {}
    following: dict[int, datetime] = {}
    for schedule in schedules:
        known = upcoming.get(schedule.id)
        if known is not None and known > now:
            following[schedule.id] = known
            continue
        if known is not None:
            # The usual case at a tick: the awaited tick is the latest one, unless the loop
            # slept through several (cron.next_fire is cached: schedules share expressions).
            after_known = cron.next_fire(schedule.cron_expression, after=known)
            if after_known > now:
                due[schedule.id], following[schedule.id] = known, after_known
                continue
        latest = cron.last_fire(schedule.cron_expression, after=schedule.created_time, until=now)
        if latest is not None:
            due[schedule.id] = latest
        following[schedule.id] = cron.next_fire(schedule.cron_expression, after=now)
    return Plan(due=due, upcoming=following)
