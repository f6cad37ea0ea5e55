"""A call is durable once accepted, runs at most once, and never stays Running forever."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable

import psutil
import pytest

from tests.conftest import deploy
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_stop_mid_call_fails_running_and_runs_queued(
    make_server: Callable[..., RunningServer], stop_signal: int
) -> None:
    server = make_server({"FNHOST_MAX_CONCURRENT_CALLS": "1"})
    client = server.client("durable")
    sleeper = deploy(client, "sleeps")
    quick = deploy(client, "ok")
    running = sleeper.call(data={"seconds": 20}, wait=False)
    wait_until(lambda: any(e.message == "sleeping" for e in running.get_logs()), timeout=30)
    queued = quick.call(data={"x": 41}, wait=False)

    server.stop(stop_signal)
    server.start()

    client = server.client("durable")
    interrupted = wait_until(
        lambda: (
            (c := client.functions.calls.retrieve(call_id=running.id, function_id=sleeper.id))
            and c.status != "Running"
            and c
        ),
        timeout=60,
    )
    assert interrupted.status == "Failed"
    assert "server stopped while this call was running" in interrupted.error["message"]
    assert interrupted.end_time is not None

    finished = wait_until(
        lambda: (
            (c := client.functions.calls.retrieve(call_id=queued.id, function_id=quick.id))
            and c.status != "Running"
            and c
        ),
        timeout=60,
    )
    assert finished.status == "Completed"
    assert client.functions.calls.get_response(call_id=queued.id, function_id=quick.id) == {"x": 42}


def test_deploy_interrupted_by_a_stop_is_built_on_restart(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server()
    client = server.client("rebuild")
    function = client.functions.create(name="ok", folder="tests/functions/ok")
    server.stop(signal.SIGKILL)
    # Whatever the build had reached, leave the function as a stop mid-build would.
    with sqlite3.connect(server.data_dir / "fnhost.db") as db:
        db.execute(
            "UPDATE functions SET status = 'Deploying', environment = NULL WHERE id = ?",
            (function.id,),
        )
    server.start()
    client = server.client("rebuild")
    ready = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)) and f.status == "Ready" and f,
        timeout=120,
    )
    assert ready.call(data={"x": 1}, wait=True).get_response() == {"x": 2}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_shuts_down_cleanly(
    make_server: Callable[..., RunningServer], stop_signal: int
) -> None:
    server = make_server()
    client = server.client("clean-stop")
    function = deploy(client, "ok")
    assert function.call(data={"x": 1}, wait=True).get_response() == {"x": 2}
    assert server.process is not None
    children = psutil.Process(server.process.pid).children(recursive=True)
    assert children  # the function's warm instance, at least
    # Exit statuses as conventions have them: 0, or "ended by that signal" after shutdown
    # (uvicorn re-raises SIGTERM; Ctrl-C gives 130).
    assert server.stop(stop_signal) in (0, -stop_signal, 128 + stop_signal)
    assert "Application shutdown complete" in server.logs()
    assert "Traceback" not in server.logs()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []  # nothing the server started outlives it
