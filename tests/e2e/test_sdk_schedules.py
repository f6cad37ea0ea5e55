"""Schedules through the real cognite-sdk on real servers, with real cron ticks (a minute apart:
these tests wait for the next whole minute, which the unit tests never do). Every scenario's
schedule is made before the same tick, so the module waits for one minute, not one each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import Function, FunctionCall, FunctionSchedule

from tests.conftest import deploy
from tests.postgres import fresh_database
from tests.servers import RunningServer, wait_until

# One worker for the module (`--dist loadgroup`): its scenarios are set up once, together.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.xdist_group("ticks")]

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


def one_creator_per_tick(servers: list[RunningServer]) -> bool:
    """In two servers' logs: each tick created by one scheduler, found by the other."""
    # Servers on one data directory share one log file.
    logs = {server.log_path: server.logs() for server in servers}
    log = "".join(logs.values())
    won, lost = log.count(f"1 due, 1 {FIRED}"), log.count(f"1 due, 0 {FIRED}")
    return won >= 1 and won == lost


def ticks_of(client: CogniteClient, function_id: int, schedule_id: int) -> list[int]:
    calls = client.functions.calls.list(function_id=function_id, schedule_id=schedule_id, limit=-1)
    return sorted(call.scheduled_time for call in calls)


@dataclass
class Scenario:
    """Servers (sharing one database where there are two), a function deployed on them and a
    schedule firing every minute, made through the last server."""

    servers: list[RunningServer]
    function: Function
    schedule: FunctionSchedule

    @property
    def client(self) -> CogniteClient:
        return self.servers[-1].client(PROJECT)

    @property
    def tick(self) -> int:
        """The schedule's first tick."""
        return first_tick_after(self.schedule.created_time)


PROJECT = "ticks"


@pytest.fixture(scope="module")
def scenarios(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, Scenario]]:
    """Every scenario's servers and function, then their schedules made together before one
    tick. The server of "restarts" is stopped at once: it is down across that tick."""
    root = tmp_path_factory.mktemp("ticks")
    failed_before = request.session.testsfailed
    servers: dict[str, list[RunningServer]] = {}

    def start(name: str, data_dir: Path, env: dict[str, str]) -> RunningServer:
        server = RunningServer(data_dir=data_dir, environments_dir=environments_dir, env=env)
        servers.setdefault(name, []).append(server)
        return server.start()

    with fresh_database() as postgres_url:
        try:
            # A server of its own: the shared one stops calls after 5 s, too tight for a handler
            # that imports cognite-sdk on a busy machine.
            start("single", root / "single", {})
            # Two `fnhost serve` processes on one data directory: one SQLite database, one log.
            start("sqlite pair", root / "sqlite", {})
            # Two processes on one data directory and one PostgreSQL database (one machine's
            # processes share its data directory: the code each runs is unpacked there).
            postgres = {"FNHOST_DATABASE_URL": postgres_url}
            for _ in range(2):
                start("postgres pair", root / "postgres", postgres)
            start("restarts", root / "restarts", {})
            functions = {
                name: deploy(
                    group[0].client(PROJECT), "echo_all" if name == "single" else "ok", name=name
                )
                for name, group in servers.items()
            }
            for function in functions.values():
                assert function.status == "Ready", function.error
            # Started after the deploy: it learns of the function from the database.
            start("sqlite pair", root / "sqlite", {})
            leave_room_before_the_next_tick(15)
            # echo_all answers with what it was given; ok adds one to x.
            data = {name: {"n": 7} if name == "single" else {"x": 41} for name in servers}
            made = {
                name: Scenario(
                    group, functions[name], _schedule(group[-1], functions[name], data[name])
                )
                for name, group in servers.items()
            }
            servers["restarts"][0].stop()
            yield made
        finally:
            for group in servers.values():
                for server in group:
                    if server.process is not None:
                        server.stop()
                    if request.session.testsfailed > failed_before:
                        print(server.logs())  # noqa: T201 - shown only when a test failed


def _schedule(server: RunningServer, function: Function, data: dict[str, int]) -> FunctionSchedule:
    return server.client(PROJECT).functions.schedules.create(
        name="every minute",
        cron_expression="* * * * *",
        function_id=function.id,
        data=data,
        description="echo once a minute",
    )


def test_a_tick_runs_one_call_with_the_schedules_data_and_info(
    scenarios: dict[str, Scenario],
) -> None:
    scenario = scenarios["single"]
    client, function, schedule, tick = (
        scenario.client,
        scenario.function,
        scenario.schedule,
        scenario.tick,
    )
    assert schedule.when == "Every minute"
    assert isinstance(schedule.session_id, int)
    assert client.functions.schedules.get_input_data(schedule.id) == {"n": 7}
    retrieved = client.functions.schedules.retrieve(id=schedule.id)
    assert retrieved.dump() == schedule.dump()
    assert [s.id for s in client.functions.schedules.list(function_id=function.id)] == [schedule.id]

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


@pytest.mark.parametrize("pair", ["sqlite pair", "postgres pair"])
def test_two_servers_on_one_database_fire_a_tick_once(
    scenarios: dict[str, Scenario], pair: str
) -> None:
    # The schedule was made through the second server: the first learned of it from the
    # database.
    scenario = scenarios[pair]
    client, function, schedule, tick = (
        scenario.client,
        scenario.function,
        scenario.schedule,
        scenario.tick,
    )
    call = finished_call(client, function.id, schedule.id, tick)
    assert call.status == "Completed", call.error
    assert call.get_response() == {"x": 42}

    # Both schedulers fired each tick; the database let one of them create its call.
    wait_until(lambda: one_creator_per_tick(scenario.servers), timeout=30)
    ticks = ticks_of(client, function.id, schedule.id)
    assert ticks.count(tick) == 1
    assert len(ticks) == len(set(ticks))


def test_a_tick_missed_while_down_runs_once_after_restarts(
    scenarios: dict[str, Scenario],
) -> None:
    scenario = scenarios["restarts"]
    (server,) = scenario.servers
    function, schedule, tick = scenario.function, scenario.schedule, scenario.tick
    assert server.process is not None and server.process.poll() is not None  # stopped
    time.sleep(max(tick / 1000 - time.time(), 0) + 1)  # down across the tick

    server.start()
    client = server.client(PROJECT)
    call = finished_call(client, function.id, schedule.id, tick)
    assert call.status == "Completed", call.error
    assert call.get_response() == {"x": 42}

    # A restart right after the tick fired offers it again; the database refuses a second call.
    fired = server.logs().count(FIRED)
    server.stop()
    server.start()
    wait_until(lambda: server.logs().count(FIRED) > fired, timeout=30)
    client = server.client(PROJECT)
    ticks = ticks_of(client, function.id, schedule.id)
    assert ticks.count(tick) == 1
    assert len(ticks) == len(set(ticks))
