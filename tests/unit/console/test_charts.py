"""Chart geometry: pure numbers in, positions out."""

import pytest

from fnhost.console import charts
from fnhost.services.activity import CallView, DurationStats, Rate, Timeline, UpcomingCall

MINUTE = 60_000


def test_rate_chart_scales_bars_to_a_round_top_and_plots_failure_rates() -> None:
    rates = [
        Rate(start=i * MINUTE, calls=calls, per_minute=calls, failure_rate=rate)
        for i, (calls, rate) in enumerate([(0, None), (3, 0.0), (7, 0.5), (0, None)])
    ]
    chart = charts.rate_chart(rates, width_ms=MINUTE, height=180)
    assert [tick.label for tick in chart.y_ticks] == ["0", "5", "10"]  # 7 rounds up to 10
    assert len(chart.bars) == 2  # empty minutes draw nothing
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.height == round((180 - charts.BOTTOM - charts.TOP) * 0.7, 1)
    assert "7 calls, 7/min, 50% failed" in tallest.title
    # 0% sits on the baseline, 50% half way up.
    assert [y for _, y in chart.failure_points] == [180 - charts.BOTTOM, (180 - 28 + 12) / 2]
    assert chart.summary == "10 calls, at most 7 per minute; failure rate up to 50%"


def test_duration_chart_draws_p50_inside_p95_per_function() -> None:
    stats = [DurationStats(function_id=1, calls=10, p50_ms=100, p95_ms=400)]
    (row,) = charts.duration_chart(stats, {1: "<b>f</b>"}).rows
    assert row.label == "<b>f</b>"  # text stays text: the template escapes it
    assert row.p50.width * 4 == pytest.approx(row.p95.width, abs=0.5)


def test_timeline_puts_each_function_in_a_lane_and_now_between_past_and_future() -> None:
    past = CallView(7, 2, "Failed", 1000 * MINUTE, 1001 * MINUTE, None, None, "boom")
    upcoming = UpcomingCall(schedule_id=3, schedule_name="n", function_id=1, at=1090 * MINUTE)
    timeline = Timeline(
        since=940 * MINUTE,
        now=1060 * MINUTE,
        until=1180 * MINUTE,
        past=[past],
        upcoming=[upcoming],
        truncated=False,
    )
    chart = charts.timeline_chart(timeline, {1: "alpha", 2: "beta"})
    assert [lane.label for lane in chart.lanes] == ["alpha", "beta"]
    failed, scheduled = chart.marks
    assert (failed.status, scheduled.status) == ("Failed", "Scheduled")
    assert failed.x < chart.now_x < scheduled.x
    assert failed.y == chart.lanes[1].y and scheduled.y == chart.lanes[0].y
    assert "beta: Failed" in failed.title and "took 60000 ms" in failed.title
    assert [tick.label for tick in chart.x_ticks][:2] == ["16:00", "16:30"]
