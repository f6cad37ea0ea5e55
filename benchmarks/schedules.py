"""Schedules at scale: 1,000 `* * * * *` schedules on one real `fnhost serve`.

    uv run python -m benchmarks.schedules [--schedules 1000] [--ticks 2]

Measures, for every call of the measured ticks, the lag from its tick (`scheduledTime`) to
  - the call's creation (`startTime`): the scheduler's own precision, and
  - the moment the handler began (it returns `time.time()`): what a user sees, which also
    includes waiting for a free slot among FNHOST_MAX_CONCURRENT_CALLS and process start-up;
the server process's CPU per minute while the ticks fire and run (API, scheduler, dispatcher;
not the function processes); and, in this process on the same database with time injected,
the scheduler's own CPU per minute (its passes: one every FNHOST_SCHEDULER_POLL_SECONDS plus
the tick). Real time passes here (about 3 minutes); it is run on demand, never by the tests.
Writes a markdown table to stdout and to benchmarks/results/schedules.md.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.servers import RunningServer, wait_until

from fnhost.cli.platform import open_platform
from fnhost.layout import DataDir
from fnhost.scheduler.loop import Scheduler
from fnhost.settings import Settings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "schedules.md"
PROJECT = "bench-schedules"
API = f"/api/v1/projects/{PROJECT}"
MINUTE_MS = 60_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def deploy(http: httpx.Client) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HERE / "scheduled_function" / "handler.py", "handler.py")
    file = http.post(f"{API}/files", json={"name": "stamp.zip"}).json()
    http.put(file["uploadUrl"], content=buffer.getvalue()).raise_for_status()
    created = http.post(
        f"{API}/functions", json={"items": [{"name": "stamp", "fileId": file["id"]}]}
    )
    function_id = int(created.json()["items"][0]["id"])

    def ready() -> bool:
        status = http.get(f"{API}/functions/{function_id}").json()["status"]
        assert status != "Failed", "the benchmark function failed to deploy"
        return bool(status == "Ready")

    wait_until(ready, timeout=300, interval=0.2)
    return function_id


def create_schedules(server: RunningServer, function_id: int, count: int) -> list[int]:
    """`count` schedules every minute; returns their creation times."""

    def create(n: int) -> int:
        with server.http() as http:
            item = {"name": f"s{n}", "cronExpression": "* * * * *", "functionId": function_id}
            response = http.post(f"{API}/functions/schedules", json={"items": [item]})
            response.raise_for_status()
            return int(response.json()["items"][0]["createdTime"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, range(count)))


def calls_of(http: httpx.Client, function_id: int) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    body: dict[str, Any] = {"limit": 10_000}
    while True:
        page = http.post(f"{API}/functions/{function_id}/calls/list", json=body).json()
        calls += page["items"]
        if "nextCursor" not in page:
            return calls
        body["cursor"] = page["nextCursor"]


def started_ms(database: Path, call_ids: list[int]) -> list[float]:
    """When each call's handler began, from its stored response. Read from the database once
    the server has stopped: thousands of GETs would load the server being measured."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        responses = dict(db.execute("SELECT id, response FROM calls"))
    return [float(json.loads(responses[i])["started_ms"]) for i in call_ids]


async def scheduler_cpu_per_minute(data_dir: Path, minutes: int) -> tuple[float, float]:
    """CPU seconds per minute of the scheduler's passes over the benchmark's database, with
    time injected; and the wall time (ms) of a pass that fires every schedule's tick."""
    settings = Settings.load(data_dir=data_dir)
    async with open_platform(settings) as platform_:
        scheduler = Scheduler(platform_)
        start = datetime.fromtimestamp((time.time() // 60 + 10) * 60, UTC)
        await scheduler.tick(now=start - timedelta(seconds=1))  # first sight of each schedule
        passes = int(60 / settings.schedules.scheduler_poll_seconds)
        fire_ms = []
        cpu = time.process_time()
        for minute in range(minutes):
            tick = start + timedelta(minutes=minute)
            began = time.perf_counter()
            await scheduler.tick(now=tick)
            fire_ms.append((time.perf_counter() - began) * 1000)
            for n in range(1, passes):
                await scheduler.tick(
                    now=tick + timedelta(seconds=n * settings.schedules.scheduler_poll_seconds)
                )
        return (time.process_time() - cpu) / minutes, statistics.median(fire_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=2, help="ticks measured")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fnhost-bench-schedules-"))
    # Every schedule's tick must make its call: the overload limits (100 calls of a function
    # running or waiting, 250 of a project) are raised above the schedules measured.
    room = str(2 * args.schedules)
    server = RunningServer(
        data_dir=work / "data",
        environments_dir=work / "environments",
        env={
            "FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION": room,
            "FNHOST_MAX_ACTIVE_CALLS_PER_PROJECT": room,
        },
    ).start()
    try:
        with server.http() as http:
            function_id = deploy(http)
            created = create_schedules(server, function_id, args.schedules)
            first_tick = (max(created) // MINUTE_MS + 1) * MINUTE_MS
            ticks = [first_tick + n * MINUTE_MS for n in range(args.ticks)]
            print(f"{args.schedules} schedules created; measuring ticks {ticks}", flush=True)
            time.sleep(max(first_tick / 1000 - time.time() - 1, 0))
            cpu_before = cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            time.sleep(max(ticks[-1] / 1000 + 60 - time.time(), 0))
            server_cpu = (cpu_seconds(server.process.pid) - cpu_before) / args.ticks  # type: ignore[union-attr]
            expected = args.schedules * args.ticks

            def measured() -> list[dict[str, Any]]:
                return [
                    call
                    for call in calls_of(http, function_id)
                    if call["scheduledTime"] in ticks and call["status"] != "Running"
                ]

            wait_until(lambda: len(measured()) >= expected, timeout=1800, interval=2)
            calls = measured()
        statuses = {call["status"] for call in calls}
        assert statuses == {"Completed"}, f"calls ended {statuses}"
        per_tick = {tick: sum(call["scheduledTime"] == tick for call in calls) for tick in ticks}
        created_lag = [call["startTime"] - call["scheduledTime"] for call in calls]
    finally:
        server.stop()
    begun = started_ms(DataDir(work / "data").database, [call["id"] for call in calls])
    run_lag = [start - call["scheduledTime"] for call, start in zip(calls, begun, strict=True)]
    scheduler_cpu, fire_pass_ms = asyncio.run(scheduler_cpu_per_minute(work / "data", minutes=3))

    rows = [
        ("schedules (`* * * * *`), ticks measured", f"{args.schedules}, {args.ticks}"),
        ("calls per tick (expected one per schedule)", ", ".join(map(str, per_tick.values()))),
        ("tick → call created, p50 / p99 / max", _ms(created_lag)),
        ("tick → handler started, p50 / p99 / max", _ms(run_lag)),
        ("scheduler CPU per minute (in-process, injected time)", f"{scheduler_cpu:.3f} s"),
        ("scheduler pass firing every schedule (wall, median)", f"{fire_pass_ms:.0f} ms"),
        ("server process CPU per minute (API + scheduler + dispatcher)", f"{server_cpu:.1f} s"),
    ]
    table = "\n".join(
        [
            f"Schedules benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, FNHOST_MAX_CONCURRENT_CALLS default (16)",
            "",
            "| Measure | Value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
        ]
    )
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table + "\n")


def _ms(values: list[float]) -> str:
    return " / ".join(
        f"{v:,.0f} ms" for v in (percentile(values, 50), percentile(values, 99), max(values))
    )


if __name__ == "__main__":
    main()
