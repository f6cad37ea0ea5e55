"""Cron maths: validation, fire times in UTC, descriptions."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fnhost import cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2026-03-01T12:00:00", "2026-03-01T12:01:00"),
        ("*/15 * * * *", "2026-03-01T12:07:30", "2026-03-01T12:15:00"),
        ("0 9 * * MON-FRI", "2026-03-06T09:00:00", "2026-03-09T09:00:00"),  # Fri -> Mon
        ("30 2 1 JAN,JUL *", "2026-01-01T02:30:00", "2026-07-01T02:30:00"),
        ("0 0 * * 0", "2026-03-01T00:00:00", "2026-03-08T00:00:00"),  # 0 is Sunday
        ("0 0 * * 7", "2026-03-01T00:00:00", "2026-03-08T00:00:00"),  # and so is 7
        ("5-10/5,40 * * * *", "2026-03-01T12:06:00", "2026-03-01T12:10:00"),
        ("0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
        # Day of month and day of week both set: either matches, as in Vixie cron.
        ("0 0 13 * FRI", "2026-03-01T00:00:00", "2026-03-06T00:00:00"),
    ],
)
def test_next_fire_is_the_first_tick_strictly_after(
    expression: str, after: str, expected: str
) -> None:
    assert cron.next_fire(expression, after=at(after)) == at(expected)


def test_next_fire_evaluates_in_utc_whatever_the_zone_of_after() -> None:
    # Noon at UTC+1 is 11:00 UTC: the next "0 12" is an hour later, not tomorrow.
    oslo_noon = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert cron.next_fire("0 12 * * *", after=oslo_noon) == at("2026-03-01T12:00:00")
    assert cron.next_fire("0 12 * * *", after=oslo_noon).tzinfo == UTC


def test_last_fire_includes_until_and_excludes_after() -> None:
    assert cron.last_fire(
        "*/5 * * * *", after=at("2026-03-01T11:00:00"), until=at("2026-03-01T12:00:00")
    ) == at("2026-03-01T12:00:00")
    assert (
        cron.last_fire(
            "*/5 * * * *", after=at("2026-03-01T12:00:00"), until=at("2026-03-01T12:04:59")
        )
        is None
    )


def test_last_fire_is_the_latest_of_many_missed_ticks() -> None:
    latest = cron.last_fire(
        "* * * * *", after=at("2026-01-01T00:00:00"), until=at("2026-03-01T12:34:56.789")
    )
    assert latest == at("2026-03-01T12:34:00")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("* * * *", "has 4 fields; expected 5"),
        ("* * * * * *", "has 6 fields; expected 5"),  # no seconds field
        ("@daily", "has 1 fields; expected 5"),
        ("61 * * * *", "bad minute field '61'"),
        ("0 24 * * *", "bad hour field '24'"),
        ("0 0 32 * *", "bad day-of-month field '32'"),
        ("0 0 31 2 *", "bad day-of-month field '31'"),  # never happens
        ("0 0 * 13 *", "bad month field '13'"),
        ("0 0 * * FUNDAY", "bad day-of-week field 'FUNDAY'"),
        ("*/0 * * * *", "bad minute field '*/0'"),
    ],
)
def test_validate_names_the_problem(expression: str, problem: str) -> None:
    with pytest.raises(cron.InvalidCron, match=re.escape(problem)):
        cron.validate(expression)


def test_validate_returns_a_valid_expression_unchanged() -> None:
    assert cron.validate("0 8 * JAN-MAR mon,wed") == "0 8 * JAN-MAR mon,wed"


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        ("*/5 * * * *", "Every 5 minutes"),
        ("* * * * *", "Every minute"),
        ("30 14 * * MON-FRI", "At 14:30, Monday through Friday"),
    ],
)
def test_describe_reads_like_a_sentence(expression: str, description: str) -> None:
    assert cron.describe(expression) == description
