"""The Ray executor on a real multi-node Ray cluster on this machine (a head without CPUs, two
nodes advertising fnhost_node): calls end as they do on one machine, log lines arrive while
a call runs, calls spread over the nodes, and losing a worker or a whole node fails exactly
the calls it was running, saying so, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio

from fnhost import isolation as isolation_check
from fnhost import sandbox
from fnhost.executor.local import LocalExecutor
from fnhost.executor.ray.executor import RayExecutor
from fnhost.executor.ray.placement import Placed
from fnhost.lifecycle import CallEnd
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings
from tests.conftest import FUNCTIONS
from tests.ray_cluster import Functions, LocalRayCluster, call_job

# One cluster for the module, on one xdist worker (`--dist loadgroup`, scripts/test).
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("ray_cluster")]

TIMEOUT_SECONDS = 5
# The bound the issue sets on turning a lost node into Failed calls.
NODE_LOSS_SECONDS = 10


class Code(Functions):
    """The sample functions of tests/functions, by folder name."""

    def spec(self, function_id: int, folder: Path | str) -> FunctionSpec:
        return super().spec(function_id, FUNCTIONS / folder)


def job(spec: FunctionSpec, data: dict[str, Any]) -> CallJob:
    return call_job(spec, data, timeout_seconds=TIMEOUT_SECONDS)


class Gate:
    """A loopback port calls of `where` wait on, until it opens."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._open = asyncio.Event()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        writer.write(b"x")
        await writer.drain()
        writer.close()

    def open_all(self) -> None:
        self._open.set()

    async def close(self) -> None:
        self.open_all()
        assert self._server is not None
        self._server.close()


@pytest.fixture(scope="module")
def ray_cluster(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[LocalRayCluster]:
    running = LocalRayCluster(tmp_path_factory.mktemp("ray"), environments_dir).start(nodes=2)
    yield running
    running.shutdown()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.load(
        data_dir=tmp_path_factory.mktemp("driver"),
        call_timeout_seconds=TIMEOUT_SECONDS,
        ray_calls_per_instance=2,
        sandbox_uid_base=2_110_000_000,  # the driver-side local executor of the parity test
    )


@pytest.fixture(scope="module")
def code() -> Code:
    return Code()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def executor(
    ray_cluster: LocalRayCluster, settings: Settings, code: Code
) -> AsyncIterator[RayExecutor]:
    running = RayExecutor(settings, code.read)
    yield running
    await running.close()


class Lines:
    """A call's log lines as they arrive."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.first = asyncio.Event()

    def __call__(self, _at: int, line: str) -> None:
        self.lines.append(line)
        self.first.set()


async def run(
    executor: RayExecutor | LocalExecutor, call: CallJob, lines: Lines | None = None
) -> CallEnd:
    return await executor.run(call, lines or Lines())


def node_of(lines: Lines) -> str:
    (started,) = [line for line in lines.lines if line.startswith("started on ")]
    return started.removeprefix("started on ")


async def local_executor(
    settings: Settings, code: Code, specs: list[FunctionSpec]
) -> tuple[LocalExecutor, dict[int, FunctionSpec]]:
    """A local executor with the same functions, unpacked and built by the same code."""
    local_specs = {spec.function_id: await code.on_this_machine(settings, spec) for spec in specs}
    isolation = isolation_check.detect(settings)
    return LocalExecutor(settings, sandbox.Sandbox(isolation, hidden=[], slots=8)), local_specs


async def test_calls_end_as_they_do_on_one_machine(
    executor: RayExecutor, settings: Settings, code: Code
) -> None:
    cases = [
        (code.spec(10, "ok"), {"x": 1}),
        (code.spec(11, "raises"), {"v": 3}),
        (code.spec(12, "exits"), {"code": 7}),
        (code.spec(13, "killed"), {}),
        (code.spec(14, "sleeps"), {"seconds": 60}),
        (code.spec(15, "import_error"), {}),  # its instance cannot start
    ]
    local, local_specs = await local_executor(settings, code, [spec for spec, _ in cases])
    try:
        ends = await asyncio.gather(
            *(run(executor, job(spec, data)) for spec, data in cases),
            *(run(local, job(local_specs[spec.function_id], data)) for spec, data in cases),
        )
        on_ray, on_one_machine = ends[: len(cases)], ends[len(cases) :]
    finally:
        await local.close()
    assert [outcome.state for outcome in on_ray] == [
        "completed",
        "failed",
        "failed",
        "failed",
        "timeout",
        "failed",
    ]
    assert on_ray[0].response == '{"x": 2}'
    assert on_ray[-1].error_message is not None
    assert on_ray[-1].error_message.startswith("The function could not start: ")
    # The same ends, to the word (the end times aside).
    assert [dataclasses.replace(end, end_time=0) for end in on_ray] == [
        dataclasses.replace(end, end_time=0) for end in on_one_machine
    ]


async def test_log_lines_arrive_while_the_call_runs(executor: RayExecutor, code: Code) -> None:
    gate = Gate()
    port = await gate.start()
    lines = Lines()
    # The call waits at the gate, which opens only once its first line has arrived here.
    call = asyncio.create_task(run(executor, job(code.spec(20, "where"), {"port": port}), lines))
    await asyncio.wait_for(lines.first.wait(), 30)
    assert not call.done()
    gate.open_all()
    outcome = await call
    await gate.close()
    assert outcome.state == "completed"


async def test_calls_spread_over_the_nodes_and_handlers_see_their_node(
    executor: RayExecutor,
    ray_cluster: LocalRayCluster,
    code: Code,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fnhost.executor.ray.executor")
    where = code.spec(1, "where")
    gate = Gate()
    port = await gate.start()
    logs = [Lines() for _ in range(4)]
    # More calls at once than one instance takes (2), held until all have started: the last
    # two can only start on a second instance, on the other node.
    calls = [run(executor, job(where, {"port": port}), lines) for lines in logs]
    running = asyncio.gather(*calls)
    await asyncio.wait_for(asyncio.gather(*(lines.first.wait() for lines in logs)), 60)
    gate.open_all()
    outcomes = await running
    await gate.close()
    nodes = {eval_response(outcome)["node"] for outcome in outcomes}
    assert nodes == set(ray_cluster.nodes)
    ran_on = [
        getattr(r, "node", None) for r in caplog.records if getattr(r, "action", "") == "call_ran"
    ]
    assert set(ran_on) == nodes

    if os.geteuid() == 0:
        # Two functions on one node never share a sandbox uid, whichever process leased it.
        other = eval_response(await run(executor, job(code.spec(2, "where"), {})))
        same_node = [o for o in outcomes if eval_response(o)["node"] == other["node"]]
        assert eval_response(same_node[0])["uid"] != other["uid"]


def eval_response(outcome: CallEnd) -> dict[str, Any]:
    assert outcome.state == "completed", outcome
    assert outcome.response is not None
    result: dict[str, Any] = json.loads(outcome.response)
    return result


async def test_prewarm_starts_an_instance_before_the_first_call(
    executor: RayExecutor, code: Code
) -> None:
    spec = code.spec(30, "ok")
    executor.prewarm(spec)
    for _ in range(600):
        if any(placed.function_id == 30 for placed in executor.instances()):
            break
        await asyncio.sleep(0.05)
    (placed,) = [p for p in executor.instances() if p.function_id == 30]
    assert (await run(executor, job(spec, {"x": 41}))).response == '{"x": 42}'
    assert [p for p in executor.instances() if p.function_id == 30] == [placed]


async def held_call(
    executor: RayExecutor, spec: FunctionSpec, gate: Gate
) -> tuple[asyncio.Task[CallEnd], Placed, list[psutil.Process]]:
    """A call held at `gate` once it has started: its task, its instance, and the processes
    of that instance (its worker, the zygote in its sandbox, the call)."""
    lines = Lines()
    call = asyncio.create_task(run(executor, job(spec, {"port": await gate.start()}), lines))
    await asyncio.wait_for(lines.first.wait(), 60)
    (placed,) = [p for p in executor.instances() if p.function_id == spec.function_id]
    processes = descendants(placed.pid)
    assert len(processes) > 2
    return call, placed, processes


def failed_and_gone(end: CallEnd, says: str, processes: list[psutil.Process]) -> None:
    """The call failed saying `says` and that it was not re-run, and `processes` are gone."""
    assert end.state == "failed"
    assert end.error_message is not None
    assert says in end.error_message
    assert "not re-run" in end.error_message
    _gone, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []


def descendants(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


async def test_a_killed_instance_fails_its_call_and_leaves_nothing_behind(
    executor: RayExecutor, code: Code
) -> None:
    spec = code.spec(40, "where")
    gate = Gate()
    call, placed, processes = await held_call(executor, spec, gate)

    os.kill(placed.pid, signal.SIGKILL)
    outcome = await asyncio.wait_for(call, 30)
    await gate.close()

    failed_and_gone(outcome, "The instance running this call was lost", processes)
    # The next call gets a new instance.
    assert eval_response(await run(executor, job(spec, {})))["node"] is not None


async def test_a_hung_instance_fails_its_call_at_the_deadline_plus_the_guard(
    ray_cluster: LocalRayCluster, settings: Settings, code: Code
) -> None:
    # The guard: the call's timeout (5 s) + the instance start timeout + the margin, 1 s each.
    guarded = settings.model_copy(
        update={
            "calls": settings.calls.model_copy(update={"instance_start_timeout_seconds": 1}),
            "executor": settings.executor.model_copy(update={"ray_call_guard_seconds": 1}),
        }
    )
    executor = RayExecutor(guarded, code.read)
    gate = Gate()
    try:
        call, placed, processes = await held_call(executor, code.spec(50, "where"), gate)
        # The instance's worker stops answering, as on a node that hangs without dropping its
        # connections (Ray's health checks see nothing wrong).
        os.kill(placed.pid, signal.SIGSTOP)
        end = await asyncio.wait_for(call, 60)
    finally:
        await gate.close()
        await executor.close()
    failed_and_gone(end, "did not report its end within 7 s", processes)


async def test_losing_a_node_fails_its_calls_and_the_others_go_on(
    executor: RayExecutor, ray_cluster: LocalRayCluster, code: Code
) -> None:
    where = code.spec(1, "where")  # with an instance on each node (see the spread test)
    gate = Gate()
    port = await gate.start()
    logs = [Lines() for _ in range(4)]
    calls = [
        asyncio.create_task(run(executor, job(where, {"port": port}), lines)) for lines in logs
    ]
    await asyncio.wait_for(asyncio.gather(*(lines.first.wait() for lines in logs)), 30)
    lost = node_of(logs[0])
    doomed = [p for p in executor.instances() if p.node_id == lost]
    processes = [process for placed in doomed for process in descendants(placed.pid)]

    ray_cluster.kill(lost)
    on_lost = [call for call, lines in zip(calls, logs, strict=True) if node_of(lines) == lost]
    ended = await asyncio.wait_for(asyncio.gather(*on_lost), NODE_LOSS_SECONDS)
    assert ended
    for outcome in ended:
        failed_and_gone(outcome, "The node running this call was lost", processes)
    gate.open_all()
    survivors = await asyncio.gather(*(call for call in calls if call not in on_lost))
    await gate.close()

    (surviving,) = ray_cluster.nodes
    assert survivors and {eval_response(o)["node"] for o in survivors} == {surviving}
    later = await asyncio.gather(*(run(executor, job(where, {})) for _ in range(3)))
    assert {eval_response(o)["node"] for o in later} == {surviving}


async def test_instances_outlive_their_executor_and_another_follows_their_calls(
    ray_cluster: LocalRayCluster, settings: Settings, code: Code
) -> None:
    first = RayExecutor(settings, code.read)
    spec = code.spec(60, "where")
    gate = Gate()
    held = job(spec, {"port": await gate.start()})
    lines = Lines()
    running = asyncio.create_task(run(first, held, lines))
    await asyncio.wait_for(lines.first.wait(), 60)
    (placed,) = [p for p in first.instances() if p.function_id == 60]
    # The first executor's dispatcher goes: its instances stay, running their calls.
    await first.leave()
    running.cancel()

    second = RayExecutor(settings, code.read)
    try:
        await second.resume()
        (taken,) = [p for p in second.instances() if p.function_id == 60]
        assert (taken.actor.name, taken.node_id) == (placed.actor.name, placed.node_id)
        # A call it never received it refuses, for good: it never runs.
        never = dataclasses.replace(job(spec, {}), call_id=10**9)
        assert await second.follow(never.call_id, taken.actor.name, taken.node_id, Lines()) is None
        assert (await taken.actor.invoke(never, [])).never_ran
        # The held call (whose first report still waits for the executor that is gone).
        following = asyncio.create_task(
            second.follow(held.call_id, taken.actor.name, taken.node_id, Lines())
        )
        gate.open_all()
        end = await asyncio.wait_for(following, 30)
    finally:
        await gate.close()
        await second.close()
    assert end is not None and eval_response(end)["node"] == placed.node_id
