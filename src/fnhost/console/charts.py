"""Charts as geometry for server-rendered SVG: pure functions from numbers to positions.

Templates draw the shapes; text (labels, titles) stays data, so Jinja escapes it like any
other text. No chart library, no script."""

from collections.abc import Sequence
from dataclasses import dataclass

from fnhost import clock
from fnhost.services.activity import CallView, DurationStats, Rate, Timeline

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 12, 28
# Tick spacings of a time axis, in ms, from a minute to a day.
_TIME_STEPS = [m * 60_000 for m in (1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)]
MAX_TICKS = 8


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class RateChart:
    """Calls per minute as bars (left axis), the failure rate as a line (right axis, 0-100%)."""

    width: int
    height: int
    bars: list[Bar]
    failure_points: list[tuple[float, float]]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    summary: str


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^n at or above `value` (an axis's top)."""
    top = 1.0
    while top < value:
        for factor in (2, 2.5, 2):
            top *= factor
            if top >= value:
                break
    return top


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _time_ticks(since: int, until: int, x_of: "_Scale") -> list[Tick]:
    span = until - since
    step = next((s for s in _TIME_STEPS if span / s <= MAX_TICKS), _TIME_STEPS[-1])
    fmt = "%H:%M" if span <= 86_400_000 else "%m-%d %H:%M"
    first = -(-since // step) * step
    return [Tick(x_of(at), clock.from_ms(at).strftime(fmt)) for at in range(first, until + 1, step)]


@dataclass(frozen=True)
class _Scale:
    """Maps [low, high] onto [start, end] (pixels)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return self.start
        return round(
            self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start), 1
        )


def rate_chart(rates: Sequence[Rate], *, width_ms: int, height: int = 180) -> RateChart:
    """The chart of consecutive `rates`, each `width_ms` wide."""
    since, until = rates[0].start, rates[-1].start + width_ms
    x_of = _Scale(since, until, LEFT, WIDTH - RIGHT)
    top = _nice_max(max((rate.per_minute for rate in rates), default=0.0) or 1.0)
    y_of = _Scale(0, top, height - BOTTOM, TOP)
    percent_of = _Scale(0, 1, height - BOTTOM, TOP)
    slot = (WIDTH - LEFT - RIGHT) / len(rates)
    bars = [
        Bar(
            x=round(x_of(rate.start) + slot * 0.1, 1),
            y=y_of(rate.per_minute),
            width=round(slot * 0.8, 1),
            height=round(height - BOTTOM - y_of(rate.per_minute), 1),
            title=(
                f"{clock.from_ms(rate.start).strftime('%H:%M')} UTC: {rate.calls} calls, "
                f"{_number(rate.per_minute)}/min"
                + (
                    f", {rate.failure_rate * 100:.0f}% failed"
                    if rate.failure_rate is not None
                    else ""
                )
            ),
        )
        for rate in rates
        if rate.calls
    ]
    points = [
        (round(x_of(rate.start) + slot / 2, 1), percent_of(rate.failure_rate))
        for rate in rates
        if rate.failure_rate is not None
    ]
    calls = sum(rate.calls for rate in rates)
    failed_rates = [rate.failure_rate for rate in rates if rate.failure_rate is not None]
    summary = f"{calls} calls, at most {_number(max(r.per_minute for r in rates))} per minute"
    if failed_rates:
        summary += f"; failure rate up to {max(failed_rates) * 100:.0f}%"
    return RateChart(
        width=WIDTH,
        height=height,
        bars=bars,
        failure_points=points,
        y_ticks=[Tick(y_of(v), _number(v)) for v in (0, top / 2, top)],
        x_ticks=_time_ticks(since, until, x_of),
        summary=summary,
    )


@dataclass(frozen=True)
class DurationRow:
    label: str
    y: float
    p50: Bar
    p95: Bar


@dataclass(frozen=True)
class DurationChart:
    width: int
    height: int
    rows: list[DurationRow]
    x_ticks: list[Tick]


def duration_chart(stats: Sequence[DurationStats], names: dict[int, str]) -> DurationChart:
    """A row per function: its p95 duration as a pale bar, its p50 as a dark one over it."""
    row_height, label_width = 28, 160
    height = TOP + BOTTOM + row_height * max(len(stats), 1)
    top = _nice_max(max((s.p95_ms for s in stats), default=0) or 1)
    x_of = _Scale(0, top, label_width, WIDTH - RIGHT)
    rows = []
    for index, stat in enumerate(stats):
        y = TOP + index * row_height
        name = names.get(stat.function_id, f"function {stat.function_id}")
        rows.append(
            DurationRow(
                label=name,
                y=y + row_height / 2,
                p95=Bar(
                    label_width,
                    y + 4,
                    round(x_of(stat.p95_ms) - label_width, 1),
                    row_height - 8,
                    f"{name}: p95 {stat.p95_ms} ms over {stat.calls} calls",
                ),
                p50=Bar(
                    label_width,
                    y + 9,
                    round(x_of(stat.p50_ms) - label_width, 1),
                    row_height - 18,
                    f"{name}: p50 {stat.p50_ms} ms over {stat.calls} calls",
                ),
            )
        )
    ticks = [Tick(x_of(v), f"{_number(v)} ms") for v in (0, top / 2, top)]
    return DurationChart(width=WIDTH, height=height, rows=rows, x_ticks=ticks)


@dataclass(frozen=True)
class Mark:
    """A call on the timeline: a past one (filled, coloured by status) or an upcoming one."""

    x: float
    y: float
    status: str
    title: str


@dataclass(frozen=True)
class Lane:
    y: float
    label: str


@dataclass(frozen=True)
class TimelineChart:
    width: int
    height: int
    lanes: list[Lane]
    marks: list[Mark]
    now_x: float
    x_ticks: list[Tick]
    plot_left: int
    plot_right: int


def _call_title(call: CallView, name: str) -> str:
    title = f"{name}: {call.status}, started {clock.from_ms(call.start_time):%Y-%m-%d %H:%M:%S}"
    if call.duration_ms is not None:
        title += f", took {call.duration_ms} ms"
    return title


def timeline_chart(timeline: Timeline, names: dict[int, str]) -> TimelineChart:
    """A lane per function, time left to right: past calls up to the now line, scheduled calls
    after it."""
    lane_height, label_width = 30, 150
    function_ids = {call.function_id for call in timeline.past} | {
        call.function_id for call in timeline.upcoming
    }
    ordered = sorted(function_ids, key=lambda i: (names.get(i, ""), i))
    lane_of = {function_id: index for index, function_id in enumerate(ordered)}
    height = TOP + BOTTOM + lane_height * max(len(ordered), 1)
    x_of = _Scale(timeline.since, timeline.until, label_width, WIDTH - 16)

    def y_of(function_id: int) -> float:
        return TOP + lane_of[function_id] * lane_height + lane_height / 2

    def name(function_id: int) -> str:
        return names.get(function_id, f"function {function_id}")

    marks = [
        Mark(
            x_of(call.start_time),
            y_of(call.function_id),
            call.status,
            _call_title(call, name(call.function_id)),
        )
        for call in reversed(timeline.past)
    ]
    marks += [
        Mark(
            x_of(call.at),
            y_of(call.function_id),
            "Scheduled",
            f"{name(call.function_id)}: scheduled by {call.schedule_name!r} for "
            f"{clock.from_ms(call.at):%Y-%m-%d %H:%M} UTC",
        )
        for call in timeline.upcoming
    ]
    return TimelineChart(
        width=WIDTH,
        height=height,
        lanes=[Lane(y_of(i), name(i)) for i in ordered],
        marks=marks,
        now_x=x_of(timeline.now),
        x_ticks=_time_ticks(timeline.since, timeline.until, x_of),
        plot_left=label_width,
        plot_right=WIDTH - 16,
    )
