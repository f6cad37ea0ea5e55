"""The console's server-side render time with a busy function: 10,000 calls.

    uv run python -m benchmarks.console [--calls 10000] [--renders 200]

Builds the app in this process over a real SQLite file (as `fnhost serve` does, without its
background workers), stores one function and its calls directly through the store (spread
over the last day: 90% Completed, 8% Failed, 2% Timeout), signs in through the console's
form, then renders each page one request at a time through ASGI: the time from request to
the last byte of the HTML, routing, session check, queries and template included (no network,
no browser). Writes a markdown table to stdout and to benchmarks/results/console.md.
"""

import argparse
import asyncio
import platform
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tests.integration.apps import ADMIN_TOKEN, InProcess, in_process, ready_function

from benchmarks.measure import Latency
from fnhost import clock
from fnhost.lifecycle import CallState
from fnhost.store import calls as calls_store
from fnhost.store.engine import Tx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "console.md"
PROJECT = "bench-console"
TARGET_MS = 100
BATCH = 1000


async def store_calls(app: InProcess, function_id: int, count: int) -> None:
    """`count` ended calls of the function over the last day, with a log line each."""
    rng = random.Random(12)
    now = clock.now_ms()
    day = int(timedelta(days=1).total_seconds() * 1000)
    starts = sorted(now - rng.randrange(day) for _ in range(count))

    def store(tx: Tx, batch: list[int]) -> None:
        for start in batch:
            state = rng.choices(
                [CallState.COMPLETED, CallState.FAILED, CallState.TIMEOUT], [90, 8, 2]
            )[0]
            row = calls_store.insert_one(
                tx,
                project=PROJECT,
                function_id=function_id,
                state=state,
                start_time=start,
                end_time=start + rng.randrange(5, 2000),
                data={"x": 1},
                response='{"x": 2}' if state == CallState.COMPLETED else None,
                error_message=None if state == CallState.COMPLETED else "ValueError: bad value",
            )
            calls_store.append_logs(tx, call_id=row.id, lines=[(start, "working")])

    for first in range(0, count, BATCH):
        batch = starts[first : first + BATCH]
        await app.platform.db.run_write(lambda tx, b=batch: store(tx, b))


async def render(app: InProcess, path: str, renders: int) -> Latency:
    """Time `renders` sequential requests of `path` (after 10 unmeasured ones)."""
    seconds = []
    for index in range(renders + 10):
        start = time.perf_counter()
        answer = await app.http.get(path, headers={"Accept": "text/html"})
        elapsed = time.perf_counter() - start
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        if index >= 10:
            seconds.append(elapsed)
    return Latency.of(seconds)


async def run(calls: int, renders: int) -> str:
    with tempfile.TemporaryDirectory() as data_dir:
        async with in_process(Path(data_dir)) as app:
            function_id = await ready_function(app, PROJECT)
            started = time.perf_counter()
            await store_calls(app, function_id, calls)
            stored = time.perf_counter() - started
            signed_in = await app.http.post(
                "/console/sign-in", data={"method": "token", "token": ADMIN_TOKEN}
            )
            assert signed_in.status_code == 303
            base = f"/console/p/{PROJECT}"
            function = f"{base}/functions/{function_id}"
            last_call = calls  # ids start at 1 in a fresh database
            pages = {
                "Function page (newest 25 calls, schedules, code)": function,
                "Function page, Failed calls only": f"{function}?status=Failed",
                "Functions list": f"{base}/functions",
                "A call (response, logs)": f"{function}/calls/{last_call}",
                "Runs (last 24 h: newest 1,000 calls on the timeline)": f"{base}/runs",
                "Overview (rates and percentiles over every call)": base,
            }
            rows = []
            for name, path in pages.items():
                latency = await render(app, path, renders)
                rows.append(f"| {name} | {latency.p50:.1f} | {latency.p99:.1f} |")
    lines = [
        f"Console render benchmark, {clock.now():%Y-%m-%d}, Python {platform.python_version()}, "
        f"SQLite, {calls:,} calls of one function (stored in {stored:.1f} s), "
        f"{renders} renders per page, one at a time, in-process through ASGI",
        "",
        "| Page | median ms | p99 ms |",
        "|---|---|---|",
        *rows,
        "",
        f"Target: the function page under {TARGET_MS} ms.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    table = asyncio.run(run(args.calls, args.renders))
    RESULTS.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
