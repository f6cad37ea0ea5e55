"""Across processes on PostgreSQL: what a unit of work tells the others is heard once it commits
(never when it rolls back, never by the process that sent it), a call's end recorded by one
process reaches a request of another waiting for it, and a listener whose connection drops
listens again (and looks for what it missed). Two platforms on one database stand for two
processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fnhost.lifecycle import CallEnd
from fnhost.services import endings, listening
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.store.engine import Tx
from tests.integration.apps import InProcess, in_process, ready_function
from tests.postgres import fresh_database, query

PROJECT = "listening"
# Longest a change takes to be heard here.
HEARD_WITHIN_SECONDS = 10


class Woken:
    """A part of a process (a builder, say) that counts its wake-ups."""

    def __init__(self) -> None:
        self.count = 0

    def wake(self) -> None:
        self.count += 1


async def until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(HEARD_WITHIN_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


@dataclass
class Process:
    app: InProcess
    woken: Woken  # a part of its own, woken by what it hears

    @property
    def platform(self) -> Platform:
        return self.app.platform


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[tuple[Process, Process]]:
    """Two processes' platforms on one fresh PostgreSQL database, each listening."""
    with fresh_database() as url:
        async with (
            in_process(tmp_path / "a", database_url=url) as a,
            in_process(tmp_path / "b", database_url=url) as b,
        ):
            both = (Process(a, Woken()), Process(b, Woken()))
            for process in both:
                process.platform.notifier.connect(builder=process.woken)
            tasks = [asyncio.create_task(listening.listen(p.platform)) for p in both]
            try:
                # Listening: each listener wakes its process's parts when it starts.
                await until(lambda: all(p.woken.count for p in both))
                for process in both:
                    process.woken.count = 0
                yield both
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_change_is_heard_by_the_others_once_committed(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes

    def rolled_back(tx: Tx) -> None:
        a.platform.notifier.tell_others(tx, Change.FUNCTION_CREATED, [1])
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await a.platform.db.run_write(rolled_back)
    await a.platform.db.run_write(
        lambda tx: a.platform.notifier.tell_others(tx, Change.FUNCTION_CREATED, [2])
    )

    await until(lambda: b.woken.count == 1)
    await asyncio.sleep(0.3)  # anything else sent would have arrived by now
    assert (a.woken.count, b.woken.count) == (0, 1)


@pytest.mark.parametrize(
    "end",
    [
        # Told whole in the notification (the response is not for the requests waiting).
        CallEnd.completed('{"x": 2}', at=1_800_000_000_000),
        # Its error read from the database.
        CallEnd.failed("ValueError: no", trace="Traceback ...", at=1_800_000_000_000),
    ],
)
async def test_a_calls_end_reaches_a_request_of_another_process_waiting_for_it(
    processes: tuple[Process, Process], end: CallEnd
) -> None:
    a, b = processes
    function_id = await ready_function(a.app, PROJECT)
    created = await b.app.http.post(f"/api/v1/projects/{PROJECT}/functions/{function_id}/call")
    call_id = created.json()["id"]
    assert created.json()["status"] == "Running"  # nothing runs calls here

    waiting = b.platform.call_events.watch(call_id)
    await endings.end(a.platform, call_ids=[call_id], end=end)

    heard = await asyncio.wait_for(waiting, HEARD_WITHIN_SECONDS)
    assert (heard.state, heard.end_time, heard.error_message, heard.error_trace) == (
        end.state,
        end.end_time,
        end.error_message,
        end.error_trace,
    )


async def test_a_listener_whose_connection_drops_listens_again(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes

    await query(
        a.platform.db.url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'fnhost listener'",
    )
    # Listening again, each looks for what it may have missed meanwhile.
    await until(lambda: a.woken.count and b.woken.count)
    b.woken.count = 0
    await a.platform.db.run_write(
        lambda tx: a.platform.notifier.tell_others(tx, Change.FUNCTION_CREATED, [3])
    )
    await until(lambda: b.woken.count == 1)
