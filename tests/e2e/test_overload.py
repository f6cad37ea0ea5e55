"""Overload is refused, not absorbed: past the limits of calls running or waiting, POST .../call
answers 429 (the SDK retries it with backoff), and a flood leaves the server's memory bounded."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import h11
import psutil
import pytest

from tests.conftest import deploy
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e


def test_the_sdk_retries_a_refused_call_until_a_place_frees(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server({"FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION": "1"})
    client = server.client("overload")
    function = deploy(client, "overlap")
    first = function.call(data={"i": 1, "seconds": 3}, wait=False)
    assert first.status == "Running"

    with server.http() as http:
        refused = http.post(f"/api/v1/projects/overload/functions/{function.id}/call", json={})
    assert refused.status_code == 429
    assert "FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION" in refused.json()["error"]["message"]

    # The SDK meets the same 429, backs off and retries until the first call ended.
    second = function.call(data={"i": 2, "seconds": 0}, wait=True)

    assert second.status == "Completed" and second.get_response() == {"i": 2}
    first.wait()
    assert first.status == "Completed"
    assert second.start_time >= first.end_time


async def _flood(server: RunningServer, function_id: int, calls: int) -> Counter[int]:
    """`calls` POST .../call at once over 64 keep-alive connections; how many of each status
    came back. A lean client (h11 on asyncio streams): the server, not the client, should be
    what the two cores spend their time on."""
    body = b'{"data": {"seconds": 600}}'
    target = f"/api/v1/projects/flood/functions/{function_id}/call".encode()
    headers = [
        (b"host", f"127.0.0.1:{server.port}".encode()),
        (b"authorization", f"Bearer {server.token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    statuses: Counter[int] = Counter()
    left = iter(range(calls))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        http = h11.Connection(h11.CLIENT)
        try:
            for _ in left:
                writer.write(http.send(h11.Request(method="POST", target=target, headers=headers)))
                writer.write(http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
                while not isinstance(event := http.next_event(), h11.EndOfMessage):
                    if isinstance(event, h11.Response):
                        statuses[event.status_code] += 1
                    elif event is h11.NEED_DATA:
                        http.receive_data(await reader.read(65536))
                http.start_next_cycle()
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(64)))
    return statuses


@pytest.mark.timeout(300)
def test_ten_thousand_calls_at_once_leave_memory_bounded(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server({"FNHOST_CALL_WAIT_MS": "0"})
    client = server.client("flood")
    function = deploy(client, "sleeps")
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss

    began = time.monotonic()
    statuses = asyncio.run(_flood(server, function.id, 10_000))

    # The default limit of a function: 100 accepted (running or waiting), the rest refused.
    assert statuses == Counter({201: 100, 429: 9_900})
    grown_mb = (process.memory_info().rss - before) / 2**20
    seconds = time.monotonic() - began
    print(f"10,000 calls in {seconds:.1f} s; server RSS grew {grown_mb:.1f} MB")  # noqa: T201
    assert grown_mb < 64
    with server.http() as http:  # still serving
        assert http.get("/health").status_code == 200
