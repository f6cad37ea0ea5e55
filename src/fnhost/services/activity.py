"""What a project's functions did and will do: function lists with their last call, calls
across functions on a timeline with the upcoming scheduled ones, call rates, durations, and
log lines as they come. The console's questions, asked of the store."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import get_args

from fnhost import clock, cron, errors
from fnhost.lifecycle import CallState, CallStatus
from fnhost.schemas.schedules import ScheduleFilter, ScheduleRead
from fnhost.services import calls as calls_service
from fnhost.services import cursors
from fnhost.services import schedules as schedules_service
from fnhost.services.platform import Platform
from fnhost.store import activity as activity_store
from fnhost.store import catalog as catalog_store
from fnhost.store.activity import CallSummary, NumberedLogLine
from fnhost.store.catalog import FunctionSummary

FAILED_STATES = (CallState.FAILED, CallState.TIMEOUT)
STATUSES: tuple[CallStatus, ...] = get_args(CallStatus)
# Schedules read per page when collecting a project's upcoming calls.
SCHEDULES_PAGE = 1000


@dataclass(frozen=True)
class CallView:
    """A call as the console lists it, with the status clients see."""

    id: int
    function_id: int
    status: CallStatus
    start_time: int
    end_time: int | None
    schedule_id: int | None
    scheduled_time: int | None
    error_message: str | None

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


def _view(call: CallSummary) -> CallView:
    return CallView(
        id=call.id,
        function_id=call.function_id,
        status=call.state.status,
        start_time=call.start_time,
        end_time=call.end_time,
        schedule_id=call.schedule_id,
        scheduled_time=call.scheduled_time,
        error_message=call.error_message,
    )


@dataclass(frozen=True)
class FunctionListItem:
    function: FunctionSummary
    last_call: CallView | None
    schedules: int


async def list_functions(
    platform: Platform, *, project: str, search: str, cursor: str | None, limit: int
) -> tuple[list[FunctionListItem], str | None]:
    """A page of the project's functions matching `search`, newest first, each with its last
    call and its number of schedules; and the cursor of the next page."""
    listed = await platform.db.run_read(
        partial(
            catalog_store.list_functions,
            project=project,
            text=search,
            before_id=cursors.decode(cursor),
            limit=limit + 1,
        )
    )
    items = [
        FunctionListItem(
            function=entry.function,
            last_call=None if entry.last_call is None else _view(entry.last_call),
            schedules=entry.schedules,
        )
        for entry in listed
    ]
    page = items[:limit]
    next_cursor = cursors.encode(page[-1].function.id) if len(items) > limit else None
    return page, next_cursor


async def function_names(platform: Platform, *, project: str) -> dict[int, str]:
    """Every function of the project: id -> name."""
    return await platform.db.run_read(partial(catalog_store.function_names, project=project))


@dataclass(frozen=True)
class UpcomingCall:
    """A call a schedule will make at `at` (epoch ms)."""

    schedule_id: int
    schedule_name: str
    function_id: int
    at: int


@dataclass(frozen=True)
class Timeline:
    """Calls that started in [since, now] and scheduled calls in (now, until], newest past
    call first and soonest upcoming first; `truncated` when more than the limit matched."""

    since: int
    now: int
    until: int
    past: list[CallView]
    upcoming: list[UpcomingCall]
    truncated: bool


async def schedules_of(
    platform: Platform, *, project: str, function_id: int | None
) -> list[ScheduleRead]:
    """Every schedule of the project (or of one of its functions), oldest first."""
    found: list[ScheduleRead] = []
    cursor = None
    while True:
        page, cursor = await schedules_service.list_schedules(
            platform,
            project=project,
            filter=ScheduleFilter(function_id=function_id),
            limit=SCHEDULES_PAGE,
            cursor=cursor,
        )
        found += page
        if cursor is None:
            return found


def next_fire_times(expression: str, *, after: datetime, count: int) -> list[int]:
    """The next `count` ticks of a cron expression after `after`, in epoch ms."""
    return [clock.to_ms(tick) for tick in cron.next_fires(expression, after=after, count=count)]


async def timeline(
    platform: Platform,
    *,
    project: str,
    now: datetime,
    back: timedelta,
    ahead: timedelta,
    function_id: int | None,
    status: CallStatus | None,
) -> Timeline:
    """The project's past calls (filtered by function and status) and upcoming scheduled calls
    (filtered by function; they have no status yet, so a status filter leaves none)."""
    limit = platform.settings.console.console_timeline_max_calls
    since, now_ms, until = clock.to_ms(now - back), clock.to_ms(now), clock.to_ms(now + ahead)
    past = await platform.db.run_read(
        partial(
            activity_store.project_calls,
            project=project,
            since=since,
            until=now_ms,
            function_id=function_id,
            states=None if status is None else CallState.of_status(status),
            limit=limit + 1,
        )
    )
    upcoming: list[UpcomingCall] = []
    if status is None:
        for schedule in await schedules_of(platform, project=project, function_id=function_id):
            upcoming += [
                UpcomingCall(schedule.id, schedule.name, schedule.function_id, at)
                for at in next_fire_times(schedule.cron_expression, after=now, count=limit + 1)
                if at <= until
            ]
        upcoming.sort(key=lambda call: (call.at, call.schedule_id))
    return Timeline(
        since=since,
        now=now_ms,
        until=until,
        past=[_view(call) for call in past[:limit]],
        upcoming=upcoming[:limit],
        truncated=len(past) > limit or len(upcoming) > limit,
    )


@dataclass(frozen=True)
class Rate:
    """Calls that started in one interval: how many per minute, and which part of the ended
    ones failed (None when none ended)."""

    start: int
    calls: int
    per_minute: float
    failure_rate: float | None


@dataclass(frozen=True)
class DurationStats:
    function_id: int
    calls: int
    p50_ms: int
    p95_ms: int


@dataclass(frozen=True)
class Overview:
    """Call rates over the last hour (per minute) and day (per 15 minutes), and the duration
    percentiles of each function's calls that ended in the last day."""

    last_hour: list[Rate]
    last_day: list[Rate]
    durations: list[DurationStats]


async def _rates(
    platform: Platform, *, project: str, now: datetime, width: timedelta, count: int
) -> list[Rate]:
    width_ms = int(width.total_seconds() * 1000)
    first = (clock.to_ms(now) // width_ms - (count - 1)) * width_ms
    counted = await platform.db.run_read(
        partial(
            activity_store.buckets,
            project=project,
            since=first,
            width_ms=width_ms,
            failed_states=FAILED_STATES,
        )
    )
    by_start = {bucket.start: bucket for bucket in counted}
    rates = []
    for start in range(first, first + count * width_ms, width_ms):
        bucket = by_start.get(start)
        calls = bucket.calls if bucket else 0
        ended = bucket.ended if bucket else 0
        failed = bucket.failed if bucket else 0
        rates.append(
            Rate(
                start=start,
                calls=calls,
                per_minute=calls / (width_ms / 60_000),
                failure_rate=failed / ended if ended else None,
            )
        )
    return rates


def percentile(sorted_values: list[int], fraction: float) -> int:
    """The nearest-rank percentile of non-empty, sorted values (`fraction` in (0, 1])."""
    return sorted_values[max(math.ceil(fraction * len(sorted_values)) - 1, 0)]


async def overview(platform: Platform, *, project: str, now: datetime) -> Overview:
    """Rates and duration percentiles for the project's overview page."""
    last_hour = await _rates(
        platform, project=project, now=now, width=timedelta(minutes=1), count=60
    )
    last_day = await _rates(
        platform, project=project, now=now, width=timedelta(minutes=15), count=96
    )
    ended = await platform.db.run_read(
        partial(
            activity_store.durations,
            project=project,
            ended_since=clock.to_ms(now - timedelta(days=1)),
        )
    )
    by_function: dict[int, list[int]] = defaultdict(list)
    for duration in ended:
        by_function[duration.function_id].append(duration.milliseconds)
    stats = []
    for function_id, values in sorted(by_function.items()):
        values.sort()
        stats.append(
            DurationStats(
                function_id=function_id,
                calls=len(values),
                p50_ms=percentile(values, 0.5),
                p95_ms=percentile(values, 0.95),
            )
        )
    return Overview(last_hour=last_hour, last_day=last_day, durations=stats)


async def log_lines(
    platform: Platform, *, project: str, function_id: int, call_id: int, after_id: int, limit: int
) -> list[NumberedLogLine]:
    """The call's log lines after line `after_id`, oldest first, at most `limit`."""
    # Whose call it is, checked first: log lines are looked up by call id alone.
    await calls_service.get(platform, project=project, function_id=function_id, call_id=call_id)
    return await platform.db.run_read(
        partial(activity_store.log_lines_after, call_id=call_id, after_id=after_id, limit=limit)
    )


def check_status(status: str | None) -> CallStatus | None:
    """A call status filter from a form: one of the statuses clients see, or None for all."""
    if not status:
        return None
    for known in STATUSES:
        if status == known:
            return known
    raise errors.InvalidInput(f"Unknown call status {status!r}; use one of {', '.join(STATUSES)}")
