"""Schedules through the real cognite-sdk on real servers, with real cron ticks (a minute apart:
these tests wait for the next whole minute, which the unit tests never do)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import FunctionCall

from tests.conftest import deploy
from tests.servers import RunningServer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MINUTE_MS = 60_000
# What each server's scheduler logs when it fires ticks (services/schedules.py).
# The scheduler's line of each pass that fired ticks: "N due, M calls created, ..."
FIRED = "calls created, "


def leave_room_before_the_next_tick(seconds: float) -> None:
    """Sleep past the next whole minute if it is closer than `seconds`, so that a schedule
    created now is seen by every server before its first tick."""
    to_tick = 60 - time.time() % 60
    if to_tick < seconds:
        time.sleep(to_tick + 0.5)


def first_tick_after(created_ms: int) -> int:
    return (created_ms // MINUTE_MS + 1) * MINUTE_MS


def finished_call(
    client: CogniteClient, function_id: int, schedule_id: int, tick: int
) -> FunctionCall:
    """Wait for the schedule's call of `tick` to end; returns it."""

    def finished() -> FunctionCall | None:
        for call in client.functions.calls.list(function_id=function_id, schedule_id=schedule_id):
            if call.scheduled_time == tick and call.status != "Running":
                return call
        return None

    call: FunctionCall = wait_until(
        finished, timeout=max(tick / 1000 - time.time(), 0) + 60, interval=0.5
    )
    return call


def one_creator_per_tick(server: RunningServer) -> bool:
    """In the log two servers share: each tick created by one scheduler, found by the other."""
    log = server.logs()
    won, lost = log.count(f"1 due, 1 {FIRED}"), log.count(f"1 due, 0 {FIRED}")
    return won >= 1 and won == lost


def ticks_of(client: CogniteClient, function_id: int, schedule_id: int) -> list[int]:
    calls = client.functions.calls.list(function_id=function_id, schedule_id=schedule_id, limit=-1)
    return sorted(call.scheduled_time for call in calls)


def test_a_tick_runs_one_call_with_the_schedules_data_and_info(
    make_server: Callable[..., RunningServer],
) -> None:
    # A server of its own: the shared one stops calls after 5 s, too tight for a handler that
    # imports cognite-sdk on a busy machine.
    client = make_server().client("tick")
    function = deploy(client, "echo_all")
    assert function.status == "Ready", function.error
    leave_room_before_the_next_tick(5)
    schedule = client.functions.schedules.create(
        name="every minute",
        cron_expression="* * * * *",
        function_id=function.id,
        data={"n": 7},
        description="echo once a minute",
    )
    assert schedule.when == "Every minute"
    assert isinstance(schedule.session_id, int)
    assert client.functions.schedules.get_input_data(schedule.id) == {"n": 7}
    retrieved = client.functions.schedules.retrieve(id=schedule.id)
    assert retrieved.dump() == schedule.dump()
    assert [s.id for s in client.functions.schedules.list(function_id=function.id)] == [schedule.id]

    tick = first_tick_after(schedule.created_time)
    call = finished_call(client, function.id, schedule.id, tick)
    assert call.status == "Completed", call.error
    assert call.schedule_id == schedule.id
    response = call.get_response()
    assert response["data"] == {"n": 7}
    assert response["info"] == {
        "function_id": function.id,
        "call_id": call.id,
        "schedule_id": schedule.id,
        "scheduled_time": tick,
    }
    # The handler's client acted as the schedule's session.
    assert response["functions_seen"] == [function.id]

    client.functions.schedules.delete(id=schedule.id)
    assert client.functions.schedules.retrieve(id=schedule.id) is None
    ticks = ticks_of(client, function.id, schedule.id)
    assert ticks.count(tick) == 1
    assert len(ticks) == len(set(ticks))  # past calls kept, one per tick


def test_two_servers_on_one_database_fire_a_tick_once(
    tmp_path: Path, environments_dir: Path
) -> None:
    # Two `fnhost serve` processes on one data directory: one SQLite database, one log file.
    assert_two_servers_fire_each_tick_once(tmp_path / "data", environments_dir, env={})


def assert_two_servers_fire_each_tick_once(
    data_dir: Path, environments_dir: Path, *, env: dict[str, str]
) -> None:
    """Two servers on `data_dir` and one database (`env` may name it): a schedule's tick runs
    one call."""
    servers = [RunningServer(data_dir=data_dir, environments_dir=environments_dir, env=env)]
    try:
        servers[0].start()
        function = deploy(servers[0].client("shared"), "ok")
        servers.append(
            RunningServer(data_dir=data_dir, environments_dir=environments_dir, env=env).start()
        )
        # Created through the second server, so the first learns of it from the database.
        client = servers[1].client("shared")
        leave_room_before_the_next_tick(15)
        schedule = client.functions.schedules.create(
            name="shared", cron_expression="* * * * *", function_id=function.id, data={"x": 1}
        )
        tick = first_tick_after(schedule.created_time)

        call = finished_call(client, function.id, schedule.id, tick)
        assert call.status == "Completed", call.error
        assert call.get_response() == {"x": 2}

        # Both schedulers fired each tick; the database let one of them create its call.
        wait_until(lambda: one_creator_per_tick(servers[0]), timeout=30)
        ticks = ticks_of(client, function.id, schedule.id)
        assert ticks.count(tick) == 1
        assert len(ticks) == len(set(ticks))
    finally:
        for server in servers:
            server.stop()


def test_a_tick_missed_while_down_runs_once_after_restarts(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server()
    client = server.client("restarts")
    function = deploy(client, "ok")
    leave_room_before_the_next_tick(10)
    schedule = client.functions.schedules.create(
        name="across", cron_expression="* * * * *", function_id=function.id, data={"x": 41}
    )
    tick = first_tick_after(schedule.created_time)
    server.stop()
    time.sleep(max(tick / 1000 - time.time(), 0) + 1)  # down across the tick

    server.start()
    client = server.client("restarts")
    call = finished_call(client, function.id, schedule.id, tick)
    assert call.status == "Completed", call.error
    assert call.get_response() == {"x": 42}

    # A restart right after the tick fired offers it again; the database refuses a second call.
    fired = server.logs().count(FIRED)
    server.stop()
    server.start()
    wait_until(lambda: server.logs().count(FIRED) > fired, timeout=30)
    client = server.client("restarts")
    ticks = ticks_of(client, function.id, schedule.id)
    assert ticks.count(tick) == 1
    assert len(ticks) == len(set(ticks))
