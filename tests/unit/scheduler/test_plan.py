"""Which ticks are due, with time as an argument: no test waits for a clock."""

from datetime import UTC, datetime, timedelta

from fnhost.scheduler.plan import Plan, plan
from fnhost.services.schedules import ScheduleTiming

CREATED = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
EVERY_MINUTE = ScheduleTiming(id=1, cron_expression="* * * * *", created_time=CREATED)
HOURLY = ScheduleTiming(id=2, cron_expression="0 * * * *", created_time=CREATED)


def minute(n: int, seconds: float = 0) -> datetime:
    """12:n:seconds on the day the schedules were created."""
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n, seconds=seconds)


def run(passes: list[datetime], schedules: list[ScheduleTiming]) -> list[Plan]:
    """Plan at each moment in turn, carrying the upcoming ticks along as the loop does."""
    plans, upcoming = [], {}
    for now in passes:
        current = plan(schedules, upcoming=upcoming, now=now)
        plans.append(current)
        upcoming = current.upcoming
    return plans


def test_new_schedule_fires_nothing_before_its_first_tick() -> None:
    [first] = run([minute(0, 40)], [EVERY_MINUTE])
    assert first.due == {}
    assert first.upcoming == {1: minute(1)}
    assert first.next_wake() == minute(1)


def test_each_tick_is_due_once_however_often_the_loop_looks() -> None:
    passes = [minute(0, 40), minute(0, 59.9), minute(1), minute(1, 0.5), minute(1, 30), minute(2)]
    plans = run(passes, [EVERY_MINUTE])
    assert [p.due for p in plans] == [{}, {}, {1: minute(1)}, {}, {}, {1: minute(2)}]


def test_schedules_fire_on_their_own_ticks() -> None:
    plans = run([minute(0, 45), minute(59), minute(60)], [EVERY_MINUTE, HOURLY])
    assert plans[1].due == {1: minute(59)}
    assert plans[2].due == {1: minute(60), 2: minute(60)}
    assert plans[2].next_wake() == minute(61)


def test_missed_ticks_are_not_replayed_only_the_latest_runs() -> None:
    # The loop was not running (server down, or asleep) from 12:00:45 to 12:10:20.
    plans = run([minute(0, 45), minute(10, 20)], [EVERY_MINUTE])
    assert plans[1].due == {1: minute(10)}
    assert plans[1].upcoming == {1: minute(11)}


def test_a_restarted_loop_catches_up_the_latest_tick_since_creation() -> None:
    # A fresh process knows nothing of upcoming ticks: it offers the latest one, and the
    # database's uniqueness per (schedule, tick) drops it if it fired before the restart.
    [fresh] = run([minute(3, 10)], [EVERY_MINUTE, HOURLY])
    assert fresh.due == {1: minute(3)}
    assert fresh.upcoming == {1: minute(4), 2: minute(60)}


def test_ticks_before_creation_never_fire() -> None:
    created_after_the_hour = ScheduleTiming(
        id=3, cron_expression="0 * * * *", created_time=minute(0, 0.001)
    )
    [fresh] = run([minute(5)], [created_after_the_hour])
    assert fresh.due == {}


def test_deleted_schedules_are_forgotten() -> None:
    first = plan([EVERY_MINUTE, HOURLY], upcoming={}, now=minute(0, 45))
    second = plan([HOURLY], upcoming=first.upcoming, now=minute(1))
    assert second.due == {}
    assert second.upcoming == {2: minute(60)}


def test_no_schedules_means_nothing_to_wake_for() -> None:
    assert plan([], upcoming={}, now=minute(0)).next_wake() is None
