"""Warm instances: started when a function becomes Ready, one per function serving all its
calls, stopped when idle, and started again by the next call."""

from __future__ import annotations

from collections.abc import Callable

import psutil
import pytest

from tests.conftest import deploy
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e


def instances(server: RunningServer) -> list[psutil.Process]:
    """The server's warm instances: zygotes, not the calls forked from them."""
    assert server.process is not None

    def zygote(process: psutil.Process) -> bool:
        try:
            return process.name().startswith("python") and any(
                part.endswith("zygote.py") for part in process.cmdline()
            )
        except psutil.NoSuchProcess:
            return False

    found = psutil.Process(server.process.pid).children(recursive=True)
    return [p for p in found if zygote(p) and not zygote(p.parent())]


def named(process: psutil.Process, name: str) -> bool:
    try:
        return process.name() == name
    except psutil.NoSuchProcess:
        return False


def test_instances_start_on_ready_serve_all_calls_and_stop_when_idle(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server({"FNHOST_INSTANCE_IDLE_SECONDS": "1"})
    client = server.client("instances")
    function = deploy(client, "ok")
    # Warm before the first call arrives.
    (instance,) = wait_until(lambda: instances(server), timeout=30)
    for x in range(3):
        assert function.call(data={"x": x}, wait=True).get_response() == {"x": x + 1}
    assert [p.pid for p in instances(server)] == [instance.pid]  # the same one served them
    # The child it keeps forked ahead of its next call.
    (spare,) = wait_until(lambda: [p for p in instance.children() if named(p, "fnhost-spare")])

    wait_until(lambda: not instances(server), timeout=30)  # idle: stopped
    _gone, alive = psutil.wait_procs([spare], timeout=10)
    assert alive == []  # its spare with it
    assert function.call(data={"x": 41}, wait=True).get_response() == {"x": 42}
    assert len(instances(server)) == 1  # started again by that call
