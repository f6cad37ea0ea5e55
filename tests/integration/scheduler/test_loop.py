"""The scheduler's tick against a real SQLite database, with time injected: one call per tick,
across restarts and concurrent schedulers; sessions as the calls' identity."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fnhost import clock
from fnhost.scheduler.loop import Scheduler
from fnhost.services import deployments
from fnhost.services import dispatch as dispatch_service
from tests.integration.apps import InProcess, in_process, upload_code

PROJECT = "sched"
P = f"/api/v1/projects/{PROJECT}"


@dataclass
class Scheduled:
    function_id: int
    schedule_id: int
    session_id: int
    created: datetime

    def minute(self, n: int, seconds: float = 0) -> datetime:
        """The n-th whole minute after the schedule was created, plus `seconds`."""
        start = self.created.replace(second=0, microsecond=0)
        return start + timedelta(minutes=n, seconds=seconds)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        yield running


async def nonce(app: InProcess) -> str:
    created = await app.http.post(f"{P}/sessions", json={"items": [{"tokenExchange": True}]})
    return str(created.json()["items"][0]["nonce"])


async def schedule(app: InProcess, *, cron: str = "* * * * *", data: Any = None) -> Scheduled:
    file_id = await upload_code(app, PROJECT)
    function = await app.http.post(
        f"{P}/functions", json={"items": [{"name": "f", "fileId": file_id}]}
    )
    function_id = function.json()["items"][0]["id"]
    item = {"name": "s", "cronExpression": cron, "functionId": function_id}
    item |= {"nonce": await nonce(app)} | ({"data": data} if data is not None else {})
    created = await app.http.post(f"{P}/functions/schedules", json={"items": [item]})
    assert created.status_code == 201, created.text
    body = created.json()["items"][0]
    return Scheduled(
        function_id=function_id,
        schedule_id=body["id"],
        session_id=body["sessionId"],
        created=clock.from_ms(body["createdTime"]),
    )


async def mark_ready(app: InProcess, scheduled: Scheduled) -> None:
    """The function's build finished (no builder runs in process)."""
    await deployments.start(app.platform, function_id=scheduled.function_id)
    await deployments.succeed(
        app.platform, function_id=scheduled.function_id, environment="python", runtime_version="3"
    )


async def calls_of(app: InProcess, scheduled: Scheduled) -> list[dict[str, Any]]:
    listed = await app.http.post(
        f"{P}/functions/{scheduled.function_id}/calls/list",
        json={"filter": {"scheduleId": scheduled.schedule_id}, "limit": 100},
    )
    return sorted(listed.json()["items"], key=lambda call: call["scheduledTime"])


async def test_each_tick_creates_one_call_with_the_schedules_data(app: InProcess) -> None:
    scheduled = await schedule(app, data={"x": 1})
    scheduler = Scheduler(app.platform)

    assert await scheduler.tick(now=scheduled.minute(0, 59.999)) == scheduled.minute(1)
    assert await calls_of(app, scheduled) == []

    for now in (scheduled.minute(1), scheduled.minute(1, 0.5), scheduled.minute(1, 59)):
        assert await scheduler.tick(now=now) == scheduled.minute(2)
    [call] = await calls_of(app, scheduled)
    assert call["scheduleId"] == scheduled.schedule_id
    assert call["scheduledTime"] == clock.to_ms(scheduled.minute(1))
    assert call["status"] == "Running"

    await scheduler.tick(now=scheduled.minute(2, 0.2))
    ticks = [call["scheduledTime"] for call in await calls_of(app, scheduled)]
    assert ticks == [clock.to_ms(scheduled.minute(1)), clock.to_ms(scheduled.minute(2))]


async def test_a_call_gets_the_schedules_session_data_and_call_info(app: InProcess) -> None:
    scheduled = await schedule(app, data={"x": 1})
    await mark_ready(app, scheduled)
    await Scheduler(app.platform).tick(now=scheduled.minute(1))

    [job] = await dispatch_service.claim(app.platform, limit=10, claimant=uuid.uuid4().hex)
    assert job.data == {"x": 1}
    [call] = await calls_of(app, scheduled)
    assert job.call_info == {
        "function_id": scheduled.function_id,
        "call_id": call["id"],
        "schedule_id": scheduled.schedule_id,
        "scheduled_time": clock.to_ms(scheduled.minute(1)),
    }
    # The call's token acts as the schedule's session.
    inspected = await app.http.get("/api/v1/token/inspect", headers=app.auth(job.token))
    assert inspected.status_code == 200


async def test_calls_of_a_function_still_building_wait_for_it(app: InProcess) -> None:
    scheduled = await schedule(app, data={"x": 1})
    await Scheduler(app.platform).tick(now=scheduled.minute(1))
    claimant = uuid.uuid4().hex
    assert await dispatch_service.claim(app.platform, limit=10, claimant=claimant) == []
    await mark_ready(app, scheduled)
    [job] = await dispatch_service.claim(app.platform, limit=10, claimant=claimant)
    assert job.call_info["scheduled_time"] == clock.to_ms(scheduled.minute(1))


async def test_two_schedulers_on_one_database_make_one_call_per_tick(app: InProcess) -> None:
    scheduled = await schedule(app)
    first, second = Scheduler(app.platform), Scheduler(app.platform)
    for scheduler in (first, second):
        await scheduler.tick(now=scheduled.minute(0, 59))
    for now in (scheduled.minute(1), scheduled.minute(1, 0.001)):
        await first.tick(now=now)
        await second.tick(now=now)
    assert len(await calls_of(app, scheduled)) == 1


async def test_a_restart_after_a_tick_does_not_fire_it_again(app: InProcess) -> None:
    scheduled = await schedule(app)
    await Scheduler(app.platform).tick(now=scheduled.minute(1))
    restarted = Scheduler(app.platform)
    await restarted.tick(now=scheduled.minute(1, 30))
    assert len(await calls_of(app, scheduled)) == 1


async def test_after_downtime_only_the_latest_missed_tick_runs(app: InProcess) -> None:
    scheduled = await schedule(app)
    await Scheduler(app.platform).tick(now=scheduled.minute(1))
    # Down from minute 1 to 10.5: ticks 2..10 were missed; a new process fires 10 alone.
    await Scheduler(app.platform).tick(now=scheduled.minute(10, 30))
    ticks = [call["scheduledTime"] for call in await calls_of(app, scheduled)]
    assert ticks == [clock.to_ms(scheduled.minute(1)), clock.to_ms(scheduled.minute(10))]


async def test_deleting_a_schedule_stops_ticks_and_keeps_past_calls(app: InProcess) -> None:
    scheduled = await schedule(app)
    scheduler = Scheduler(app.platform)
    await scheduler.tick(now=scheduled.minute(1))
    deleted = await app.http.post(
        f"{P}/functions/schedules/delete", json={"items": [{"id": scheduled.schedule_id}]}
    )
    assert deleted.status_code == 200
    assert await scheduler.tick(now=scheduled.minute(2)) is None
    assert len(await calls_of(app, scheduled)) == 1


async def test_calls_of_a_revoked_session_fail_saying_so(app: InProcess) -> None:
    scheduled = await schedule(app)
    await mark_ready(app, scheduled)
    revoked = await app.http.post(
        f"{P}/sessions/revoke", json={"items": [{"id": scheduled.session_id}]}
    )
    assert revoked.status_code == 200
    await Scheduler(app.platform).tick(now=scheduled.minute(1))

    assert await dispatch_service.claim(app.platform, limit=10, claimant=uuid.uuid4().hex) == []
    [call] = await calls_of(app, scheduled)
    assert call["status"] == "Failed"
    assert call["error"]["message"] == (
        f"The call's session (id {scheduled.session_id}) was revoked"
    )


async def test_a_schedules_session_outlives_its_ttl_until_the_schedule_goes(
    app: InProcess,
) -> None:
    scheduled = await schedule(app)

    async def expiration() -> int:
        found = await app.http.post(
            f"{P}/sessions/byids", json={"items": [{"id": scheduled.session_id}]}
        )
        return int(found.json()["items"][0]["expirationTime"])

    ten_years = clock.to_ms(clock.now() + timedelta(days=3650))
    assert await expiration() > ten_years
    await app.http.post(
        f"{P}/functions/schedules/delete", json={"items": [{"id": scheduled.schedule_id}]}
    )
    assert await expiration() < ten_years
