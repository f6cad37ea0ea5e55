"""The console's queries on SQLite and on PostgreSQL: function search, last calls, the runs
timeline with upcoming scheduled calls, call rates and duration percentiles, new log lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fnhost import clock
from fnhost.lifecycle import CallState
from fnhost.services import activity
from fnhost.store import calls as calls_store
from fnhost.store.engine import Tx
from tests.e2e.test_postgres import postgres_url  # noqa: F401 - a fixture
from tests.integration.apps import InProcess, in_process, ready_function

PROJECT = "queries"
NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
MINUTE = 60_000


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("postgres_url")}


async def _calls(app: InProcess, function_id: int, calls: list[tuple[CallState, int, int]]) -> None:
    """Calls of (state, minutes before NOW they started, duration ms), with a log line each."""

    def store(tx: Tx) -> None:
        for state, minutes_ago, took in calls:
            start = clock.to_ms(NOW) - minutes_ago * MINUTE
            ended = state not in (CallState.QUEUED, CallState.RUNNING)
            call = calls_store.insert_one(
                tx,
                project=PROJECT,
                function_id=function_id,
                state=state,
                start_time=start,
                end_time=start + took if ended else None,
                data={},
            )
            calls_store.append_logs(tx, call_id=call.id, lines=[(start, f"{state} line")])

    await app.platform.db.run_write(store)


async def test_the_console_questions_answered_alike_on_both_databases(
    tmp_path: Path, database: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    async with in_process(tmp_path, **database) as app:
        first = await ready_function(app, PROJECT, name="nightly_50%_job", externalId="a_1")
        second = await ready_function(app, PROJECT, name="other")
        await _calls(
            app,
            first,
            [
                (CallState.COMPLETED, 90, 100),
                (CallState.COMPLETED, 30, 300),
                (CallState.FAILED, 10, 200),
                (CallState.TIMEOUT, 10, 900),
                (CallState.RUNNING, 1, 0),
            ],
        )
        await _calls(app, second, [(CallState.COMPLETED, 2 * 24 * 60, 5)])
        created = await app.http.post(
            f"/api/v1/projects/{PROJECT}/functions/schedules",
            json={
                "items": [{"name": "hourly", "cronExpression": "0 * * * *", "functionId": first}]
            },
        )
        assert created.status_code == 201, created.text
        platform = app.platform

        async def search(text: str, limit: int = 10) -> list[activity.FunctionListItem]:
            page, _ = await activity.list_functions(
                platform, project=PROJECT, search=text, cursor=None, limit=limit
            )
            return page

        # Search is a substring of name or external id, any case; % and _ are plain characters.
        for text in ("50%", "NIGHTLY", "_1", "%"):
            assert [item.function.id for item in await search(text)] == [first], text
        assert [item.function.id for item in await search("")] == [second, first]
        (item,) = await search("", limit=1)
        assert item.last_call is not None
        assert (item.function.id, item.last_call.status, item.schedules) == (second, "Completed", 0)
        (item,) = await search("nightly")
        assert item.schedules == 1

        timeline = await activity.timeline(
            platform,
            project=PROJECT,
            now=NOW,
            back=timedelta(hours=6),
            ahead=timedelta(hours=6),
            function_id=None,
            status=None,
        )
        assert [call.status for call in timeline.past] == [
            "Running",
            "Timeout",
            "Failed",
            "Completed",
            "Completed",
        ]
        assert [clock.from_ms(call.at).hour for call in timeline.upcoming] == list(range(13, 19))
        failed = await activity.timeline(
            platform,
            project=PROJECT,
            now=NOW,
            back=timedelta(days=7),
            ahead=timedelta(days=7),
            function_id=first,
            status="Failed",
        )
        assert ([c.status for c in failed.past], failed.upcoming) == (["Failed"], [])

        overview = await activity.overview(platform, project=PROJECT, now=NOW)
        busy = [rate for rate in overview.last_hour if rate.calls]
        assert [(rate.calls, rate.failure_rate) for rate in busy] == [(1, 0.0), (2, 1.0), (1, None)]
        assert sum(rate.calls for rate in overview.last_day) == 5
        (stats,) = [s for s in overview.durations if s.function_id == first]
        assert (stats.calls, stats.p50_ms, stats.p95_ms) == (4, 200, 900)

        running = timeline.past[0]
        lines = await activity.log_lines(
            platform, project=PROJECT, function_id=first, call_id=running.id, after_id=0, limit=5
        )
        assert [line.message for line in lines] == ["running line"]
        assert (
            await activity.log_lines(
                platform,
                project=PROJECT,
                function_id=first,
                call_id=running.id,
                after_id=lines[-1].id,
                limit=5,
            )
            == []
        )
