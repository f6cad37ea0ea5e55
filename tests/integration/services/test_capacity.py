"""The overload limits: past FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION or _PER_PROJECT calls running or
waiting, a new call is refused with 429 (nothing stored) and a schedule's tick is skipped, logged
and counted; room comes back as calls end."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from fnhost import clock
from fnhost.lifecycle import CallEnd
from fnhost.scheduler.loop import Scheduler
from fnhost.services import endings
from tests.integration.apps import InProcess, in_process, ready_function
from tests.integration.scheduler.test_loop import P, calls_of, schedule

PROJECT = "capacity"
BASE = f"/api/v1/projects/{PROJECT}"


def _ticks(outcome: str) -> float:
    """The scheduler's count of ticks with this outcome, in this process."""
    return REGISTRY.get_sample_value("fnhost_schedule_ticks_total", {"outcome": outcome}) or 0.0


async def _call(app: InProcess, function_id: int) -> Any:
    return await app.http.post(f"{BASE}/functions/{function_id}/call", json={"data": {}})


async def test_a_call_past_the_function_limit_is_refused_with_429_and_nothing_stored(
    tmp_path: Path,
) -> None:
    async with in_process(
        tmp_path / "data", call_wait_ms=0, max_active_calls_per_function=2
    ) as app:
        function_id = await ready_function(app, PROJECT)
        first, second = await _call(app, function_id), await _call(app, function_id)
        assert (first.status_code, second.status_code) == (201, 201)  # queued: nothing runs them

        before = await app.snapshot()
        refused = await _call(app, function_id)

        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert error["code"] == 429
        assert f"Function {function_id} has 2 calls running or waiting" in error["message"]
        assert "FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION" in error["message"]
        assert await app.snapshot() == before

        # A call that ends makes room for the next one.
        failed = CallEnd.failed("done", at=clock.now_ms())
        await endings.end(app.platform, call_ids=[first.json()["id"]], end=failed)
        assert (await _call(app, function_id)).status_code == 201


async def test_the_project_limit_counts_every_function_of_the_project(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=0, max_active_calls_per_project=3) as app:
        one, other = await ready_function(app, PROJECT), await ready_function(app, PROJECT)
        elsewhere = await ready_function(app, "another-project")
        for function_id in (one, one, other):
            assert (await _call(app, function_id)).status_code == 201

        refused = await _call(app, other)

        assert refused.status_code == 429
        assert f"Project {PROJECT!r} has 3 calls" in refused.json()["error"]["message"]
        assert "FNHOST_MAX_ACTIVE_CALLS_PER_PROJECT" in refused.json()["error"]["message"]
        created = await app.http.post(
            f"/api/v1/projects/another-project/functions/{elsewhere}/call", json={}
        )
        assert created.status_code == 201  # other projects are not concerned


async def test_a_tick_past_the_limit_is_skipped_and_logged_and_the_next_one_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with in_process(
        tmp_path / "data", call_wait_ms=0, max_active_calls_per_function=1
    ) as app:
        scheduled = await schedule(app)
        busy = await app.http.post(f"{P}/functions/{scheduled.function_id}/call", json={})
        assert busy.status_code == 201
        scheduler = Scheduler(app.platform)
        await scheduler.tick(now=scheduled.minute(0, 59))

        refused_before = _ticks("refused")
        with caplog.at_level(logging.WARNING, logger="fnhost.services.schedules"):
            await scheduler.tick(now=scheduled.minute(1))
        assert _ticks("refused") == refused_before + 1

        assert await calls_of(app, scheduled) == []
        [skipped] = [r for r in caplog.records if getattr(r, "action", "") == "tick_refused"]
        assert skipped.schedule_id == scheduled.schedule_id  # type: ignore[attr-defined]
        assert "FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION" in skipped.getMessage()

        failed = CallEnd.failed("done", at=clock.now_ms())
        await endings.end(app.platform, call_ids=[busy.json()["id"]], end=failed)
        fired_before = _ticks("fired")
        await scheduler.tick(now=scheduled.minute(2) + timedelta(milliseconds=1))
        assert _ticks("fired") == fired_before + 1
        [call] = await calls_of(app, scheduled)
        assert call["scheduledTime"] == clock.to_ms(scheduled.minute(2))
