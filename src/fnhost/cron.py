"""Cron maths, pure: standard 5-field expressions, evaluated in UTC; time is always an argument.

It sits below the services (not in `scheduler/`) because the API validates and describes
expressions when a schedule is created, and the scheduler computes its fire times.
"""

import functools
import itertools
from datetime import UTC, datetime, timedelta

from cron_descriptor import Options, get_description
from cronsim import CronSim, CronSimError

FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
# cronsim iterates strictly before its start when reversed; this makes `until` inclusive.
_INCLUSIVE = timedelta(microseconds=1)


class InvalidCron(ValueError):
    """The cron expression is not a valid 5-field expression."""


def validate(expression: str) -> str:
    """`expression` unchanged if valid; otherwise InvalidCron naming the problem."""
    fields = expression.split()
    if len(fields) != len(FIELDS):
        raise InvalidCron(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5: "
            + " ".join(FIELDS)
        )
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        problem = str(error)
        field = problem.removeprefix("Bad ").strip()
        if field in FIELDS:
            problem = f"bad {field} field {fields[FIELDS.index(field)]!r}"
        raise InvalidCron(
            f"invalid cron expression {expression!r}: {problem} (fields: {' '.join(FIELDS)}; "
            "numbers, ranges a-b, lists a,b, steps */n, names like MON or JAN)"
        ) from None
    try:
        describe(expression)
    except Exception as error:  # cron-descriptor raises several unrelated exception types
        raise InvalidCron(f"cron expression {expression!r} cannot be described: {error}") from None
    return expression


@functools.lru_cache(maxsize=4096)
def next_fire(expression: str, *, after: datetime) -> datetime:
    """The first tick strictly after `after`, in UTC. Cached: at a tick, many schedules with
    one expression ask the same question."""
    return next(iter(CronSim(expression, after.astimezone(UTC))))


def last_fire(expression: str, *, after: datetime, until: datetime) -> datetime | None:
    """The latest tick in (`after`, `until`], or None when there is none."""
    latest = next(iter(CronSim(expression, until.astimezone(UTC) + _INCLUSIVE, reverse=True)))
    return latest if latest > after else None


def next_fires(expression: str, *, after: datetime, count: int) -> list[datetime]:
    """The first `count` ticks strictly after `after`, oldest first."""
    return list(itertools.islice(CronSim(expression, after.astimezone(UTC)), count))


def describe(expression: str) -> str:
    """A person's reading of the expression, e.g. "Every 5 minutes" (times are UTC)."""
    options = Options()
    options.use_24hour_time_format = True
    return str(get_description(expression, options))
