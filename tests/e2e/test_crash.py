"""Crash at scale: kill -9 the server with 1,000 calls in flight, start it again on the same
data directory: no call lost, none stuck Running, none run twice, completed ones unchanged.

Slow calls wait for a gate (a file) that opens only after the restart, so that at the kill every
slot runs one and the rest are queued, however fast the machine is.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnhost.settings import CallSettings
from tests.conftest import deploy
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

PROJECT = "crash"
FAST, SLOW = 900, 100
SLOW_SECONDS = 1
SLOTS = CallSettings.model_fields["max_concurrent_calls"].default
INTERRUPTED = "The server stopped while this call was running; it was not re-run"


async def _fire(http: httpx.AsyncClient, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    """Create a call per body, 32 requests at a time; their ids."""
    gate = asyncio.Semaphore(32)

    async def one(body: dict[str, Any]) -> int:
        async with gate:
            response = await http.post(f"{path}/call", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    return await asyncio.gather(*(one(body) for body in bodies))


async def _calls(http: httpx.AsyncClient, path: str) -> dict[int, dict[str, Any]]:
    response = await http.post(f"{path}/calls/list", json={"limit": 10_000})
    response.raise_for_status()
    return {call["id"]: call for call in response.json()["items"]}


async def _responses(http: httpx.AsyncClient, path: str, ids: list[int]) -> dict[int, Any]:
    gate = asyncio.Semaphore(32)

    async def one(call_id: int) -> Any:
        async with gate:
            response = await http.get(f"{path}/calls/{call_id}/response")
        response.raise_for_status()
        return response.json()["response"]

    return dict(zip(ids, await asyncio.gather(*(one(i) for i in ids)), strict=True))


def _client(server: RunningServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=60,
        # Idle connections are dropped well before uvicorn closes them (5 s), so that a request
        # never races the server's close of the connection it reuses.
        limits=httpx.Limits(max_connections=32, keepalive_expiry=1),
    )


@pytest.mark.timeout(240)  # about 40 s alone on 2 cores; allow for a loaded machine
async def test_kill_9_with_1000_calls_in_flight(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    # Default concurrency (16 slots), so that most calls are queued at the kill. Admission
    # limits raised, so that all 1,000 calls of one function are accepted (what happens to
    # accepted calls is the subject here). Without the sandbox, so that calls can leave their
    # marks in a shared directory.
    server = make_server(
        {
            "FNHOST_SANDBOX": "none",
            "FNHOST_CALL_WAIT_MS": "0",
            "FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION": str(FAST + SLOW),
            "FNHOST_MAX_ACTIVE_CALLS_PER_PROJECT": str(FAST + SLOW),
        }
    )
    function = deploy(server.client(PROJECT), "marks_runs")
    assert function.status == "Ready"
    path = f"/api/v1/projects/{PROJECT}/functions/{function.id}"
    runs = tmp_path / "runs"
    bodies = [{"data": {"dir": str(tmp_path), "seconds": 0}}] * FAST + [
        {"data": {"dir": str(tmp_path), "seconds": SLOW_SECONDS}}
    ] * SLOW
    random.Random(14).shuffle(bodies)

    async with _client(server) as http:
        ids = await _fire(http, path, bodies)
        # Wait until every slot holds a slow call: the rest stay queued.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            before = await _calls(http, path)
            completed = [i for i, call in before.items() if call["status"] == "Completed"]
            started_runs = runs.read_text().split() if runs.exists() else []
            if len(started_runs) - len(completed) == SLOTS:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the slots never all held a slow call")
        responses = await _responses(http, path, completed)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    marks_at_kill = runs.read_text().split()

    started = time.monotonic()
    server.start()
    up = time.monotonic() - started
    (tmp_path / "gate").touch()
    async with _client(server) as http:
        after = await _calls(http, path)
        while any(call["status"] == "Running" for call in after.values()):
            assert time.monotonic() - started < 90, "calls still Running 90 s after the restart"
            await asyncio.sleep(0.2)
            after = await _calls(http, path)
        drained = time.monotonic() - started
        assert await _responses(http, path, completed) == responses
    marks = runs.read_text().split()

    # None lost, none stuck: all 1,000 are there, ended.
    assert sorted(after) == sorted(ids)
    statuses = collections.Counter(call["status"] for call in after.values())
    assert set(statuses) <= {"Completed", "Failed"}, statuses
    # None run twice: one mark per run.
    times_run = collections.Counter(int(mark) for mark in marks)
    assert max(times_run.values()) == 1
    # Completed calls unchanged; each finished call ran exactly once and returned its id.
    for call_id in completed:
        assert after[call_id] == before[call_id]
        assert responses[call_id] == {"call": call_id}
    failed = [i for i, call in after.items() if call["status"] == "Failed"]
    for call_id in failed:  # running at the kill: ended, never re-run (at most once)
        assert after[call_id]["error"]["message"] == INTERRUPTED
        assert times_run[call_id] <= 1
    ran_after = set(times_run) - {int(mark) for mark in marks_at_kill}
    assert all(after[i]["status"] == "Completed" for i in ran_after)  # queued: ran after restart
    assert len(failed) == SLOTS
    assert len(ran_after) > 0
    assert statuses["Completed"] + len(failed) == FAST + SLOW

    print(  # noqa: T201 - the figures the README quotes
        f"completed before the kill: {len(completed)} (read), interrupted: {len(failed)}, "
        f"ran after the restart: {len(ran_after)}; up again in {up:.1f} s, "
        f"all ended {drained:.1f} s after the restart"
    )
