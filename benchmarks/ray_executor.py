"""The Ray executor on a real multi-node Ray cluster on this machine, next to the local executor
on the same machine, both driven directly (no HTTP, no database: the executors alone).

    uv run python -m benchmarks.ray_executor [--quick]

Measures
  - a warm call (trivial handler) through each executor: p50/p99, one at a time;
  - throughput with 16 calls in flight at once (2 instances of 8 slots on Ray, one per node);
  - the memory of one warm instance on its node (Ray worker, zygote and spare child, PSS);
  - a cold instance on a node: its first call, with the environment cached on that node, and
    on a fresh node (empty environment cache: uv builds it, then the zygote starts);
  - node loss to Failed: the time from losing a node with a call running on it to that call
    ending Failed, for a node whose processes are killed (a machine that loses power) and for
    one whose processes are stopped (SIGSTOP: hung, or cut off), with Ray's health checks at
    1 s period, 1 s timeout, 3 failures (tests/ray_cluster.py); and, for the hung node, how
    long its processes outlive it once they run again (the instance fences itself).
The cluster is a head without CPUs and nodes of 1 CPU each, all on the same 2 cores as the
driver, so read the numbers as orders of magnitude. Writes a markdown table to stdout and to
benchmarks/results/ray.md (not with --quick). Run it on a quiet machine, never in the tests.
"""

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import platform
import signal
import tempfile
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # a cluster on the loopback
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves this machine

import psutil
from ray._private import ray_constants
from tests.ray_cluster import Functions, LocalRayCluster, call_job

from benchmarks.measure import Latency, pss_mb
from fnhost import isolation, sandbox
from fnhost.executor.base import LogSink
from fnhost.executor.local import LocalExecutor
from fnhost.executor.ray.executor import RayExecutor
from fnhost.lifecycle import CallEnd
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ray.md"
FUNCTIONS = HERE.parent / "tests" / "functions"
CLIENTS = 16


@dataclasses.dataclass(frozen=True)
class Sizes:
    calls: int = 300
    warmup: int = 30
    throughput_seconds: float = 8.0


QUICK = Sizes(calls=30, warmup=5, throughput_seconds=2.0)


def job(spec: FunctionSpec, data: object, timeout: int = 60) -> CallJob:
    return call_job(spec, data, timeout_seconds=timeout)


def ignore(_at: int, _line: str) -> None:
    return None


Executor = RayExecutor | LocalExecutor


async def call(
    executor: Executor, spec: FunctionSpec, data: object, log: LogSink = ignore
) -> CallEnd:
    end = await executor.run(job(spec, data), log)
    if end.state != "completed":
        raise RuntimeError(f"call failed: {end}")
    return end


async def warm(executor: Executor, spec: FunctionSpec, sizes: Sizes) -> Latency:
    for i in range(sizes.warmup):
        await call(executor, spec, {"x": i})
    seconds = []
    for i in range(sizes.calls):
        start = time.perf_counter()
        await call(executor, spec, {"x": i})
        seconds.append(time.perf_counter() - start)
    return Latency.of(seconds)


async def throughput(executor: Executor, spec: FunctionSpec, sizes: Sizes) -> float:
    done = 0

    async def client(deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(executor, spec, {"x": 1})
            done += 1

    await asyncio.gather(*(call(executor, spec, {"x": 1}) for _ in range(CLIENTS)))
    start = time.perf_counter()
    await asyncio.gather(*(client(start + sizes.throughput_seconds) for _ in range(CLIENTS)))
    return done / (time.perf_counter() - start)


async def first_call(executor: RayExecutor, spec: FunctionSpec) -> tuple[float, str]:
    start = time.perf_counter()
    end = await call(executor, spec, {})
    assert end.response is not None
    return time.perf_counter() - start, json.loads(end.response)["node"]


def node_processes(cluster: LocalRayCluster, node_id: str) -> list[psutil.Process]:
    """The raylet of a node and everything under it (its workers, their zygotes and calls)."""
    node = cluster.nodes[node_id]
    (raylet,) = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET]
    root = psutil.Process(raylet.process.pid)
    return [root, *root.children(recursive=True)]


async def node_loss(
    executor: RayExecutor, cluster: LocalRayCluster, spec: FunctionSpec, *, hang: bool
) -> tuple[float, str, float | None]:
    """Lose the node running a call; seconds to the call's end, its message, and (hung node)
    seconds its instance outlives it once it runs again."""
    lines: list[str] = []
    started = asyncio.Event()

    def log(_at: int, line: str) -> None:
        lines.append(line)
        started.set()

    running = asyncio.create_task(executor.run(job(spec, {"seconds": 120}, timeout=300), log))
    await asyncio.wait_for(started.wait(), 120)
    node = lines[0].removeprefix("started on ")
    processes = node_processes(cluster, node)
    instances = [p.pid for p in executor.instances() if p.node_id == node]
    lost_at = time.perf_counter()
    if hang:
        for process in processes:
            process.send_signal(signal.SIGSTOP)
    else:
        cluster.kill(node)
    end = await running
    seconds = time.perf_counter() - lost_at
    outlived = None
    if hang:
        for process in processes:
            process.send_signal(signal.SIGCONT)
        resumed = time.perf_counter()
        _gone, alive = psutil.wait_procs([psutil.Process(pid) for pid in instances], timeout=60)
        outlived = time.perf_counter() - resumed if not alive else None
        cluster.nodes.pop(node)
    return seconds, end.error_message or "", outlived


async def measure(root: Path, sizes: Sizes) -> list[tuple[str, str, str]]:
    cluster = LocalRayCluster(root / "ray", root / "environments").start(nodes=2)
    settings = Settings.load(data_dir=root / "driver", sandbox_uid_base=2_110_000_000)
    functions = Functions()
    ids = itertools.count(1)
    trivial = functions.spec(next(ids), HERE / "function")
    rows: list[tuple[str, str, str]] = []
    local = LocalExecutor(settings, sandbox.Sandbox(isolation.detect(settings), hidden=[], slots=8))
    executor = RayExecutor(settings, functions.read)
    try:
        on_this_machine = await functions.on_this_machine(settings, trivial)
        await call(local, on_this_machine, {"x": 1})
        local_warm = await warm(local, on_this_machine, sizes)
        ray_warm = await warm(executor, trivial, sizes)
        rows.append(
            (
                "warm call p50 / p99 (ms)",
                f"{local_warm.p50:.2f} / {local_warm.p99:.2f}",
                f"{ray_warm.p50:.2f} / {ray_warm.p99:.2f}",
            )
        )
        print(rows[-1], flush=True)
        local_rate = await throughput(local, on_this_machine, sizes)
        ray_rate = await throughput(executor, trivial, sizes)
        rows.append(
            (
                f"throughput, {CLIENTS} calls in flight (calls/s)",
                f"{local_rate:.0f}",
                f"{ray_rate:.0f}",
            )
        )
        print(rows[-1], flush=True)

        (instance, *_) = [p for p in executor.instances() if p.function_id == trivial.function_id]
        worker = psutil.Process(instance.pid)
        memory = sum(pss_mb(p.pid) for p in [worker, *worker.children(recursive=True)])
        rows.append(
            ("memory of a warm instance: worker, zygote, spare (PSS MB)", "", f"{memory:.0f}")
        )

        cached, node = await first_call(executor, functions.spec(next(ids), FUNCTIONS / "where"))
        rows.append(("cold instance, environment cached on the node (s)", "", f"{cached:.2f}"))
        fresh = cluster.add_node(own_environments=True)
        cold, node = await first_call(executor, functions.spec(next(ids), FUNCTIONS / "where"))
        if node != fresh:
            raise RuntimeError("the cold instance did not start on the fresh node")
        rows.append(
            ("cold instance on a fresh node: environment build + zygote (s)", "", f"{cold:.2f}")
        )
        print(rows[-2:], flush=True)

        sleeper = functions.spec(next(ids), FUNCTIONS / "where")
        killed, message, _ = await node_loss(executor, cluster, sleeper, hang=False)
        rows.append(("node killed: call Failed after (s)", "", f"{killed:.2f}"))
        print(rows[-1], message, flush=True)
        hung, message, outlived = await node_loss(executor, cluster, sleeper, hang=True)
        rows.append(("node hung (SIGSTOP): call Failed after (s)", "", f"{hung:.2f}"))
        rows.append(
            (
                "hung node resumed: its instance gone after (s)",
                "",
                "still there after 60" if outlived is None else f"{outlived:.2f}",
            )
        )
        print(rows[-2:], message, flush=True)
    finally:
        await executor.close()
        await local.close()
        cluster.shutdown()
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    lines = [
        f"Ray executor vs local executor, {platform.node()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f} at the end",
        "",
        "| measure | local executor | Ray executor |",
        "|---|---|---|",
        *(f"| {name} | {local} | {ray} |" for name, local, ray in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; results not written")
    arguments = parser.parse_args()
    sizes = QUICK if arguments.quick else Sizes()
    with tempfile.TemporaryDirectory(prefix="fnhost-bench-ray-") as root:
        rows = asyncio.run(measure(Path(root), sizes))
    text = table(rows)
    print(text)
    if not arguments.quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
