"""Calls run in parallel up to the concurrency setting; the rest wait and are never dropped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import deploy
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e


def test_excess_calls_wait_and_all_complete(make_server: Callable[..., RunningServer]) -> None:
    # Calls are created without holding each answer, so all six are queued at once.
    server = make_server({"FNHOST_MAX_CONCURRENT_CALLS": "2", "FNHOST_CALL_WAIT_MS": "0"})
    client = server.client("concurrency")
    function = deploy(client, "overlap")
    calls = [function.call(data={"i": i, "seconds": 1}, wait=False) for i in range(6)]
    assert all(call.status == "Running" for call in calls)
    for call in calls:
        call.wait()
    assert [call.status for call in calls] == ["Completed"] * 6
    assert [call.get_response() for call in calls] == [{"i": i} for i in range(6)]
    # From the log timestamps: never more than two calls between their start and end.
    events = []
    for call in calls:
        for entry in call.get_logs():
            events.append((entry.timestamp, 1 if entry.message == "start" else -1))
    running, peak = 0, 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        peak = max(peak, running)
    assert peak == 2
