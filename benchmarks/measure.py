"""Timing and memory primitives shared by every system under test."""

import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Latency:
    """Percentiles of a latency sample, in milliseconds."""

    p50: float
    p99: float
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> "Latency":
        ms = sorted(s * 1000 for s in seconds)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return cls(p50=statistics.median(ms), p99=p99, count=len(ms))


def timed(operation: Callable[[], object], count: int, warmup: int = 0) -> Latency:
    """Run `operation` `warmup` times unmeasured, then `count` times measured, one at a time."""
    for _ in range(warmup):
        operation()
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        operation()
        seconds.append(time.perf_counter() - start)
    return Latency.of(seconds)


def throughput(
    make_operation: Callable[[], Callable[[], object]], *, clients: int, seconds: float
) -> float:
    """Operations per second of `clients` forked client processes looping on one operation.

    Processes, not threads: the clients must not share a GIL (nor a Celery result consumer).
    Each builds its own operation (its own connections) and runs one unmeasured first.
    """
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(clients + 1)
    counts = context.Queue()

    def client() -> None:
        operation = make_operation()
        operation()
        ready.wait()
        deadline = time.perf_counter() + seconds
        done = 0
        while time.perf_counter() < deadline:
            operation()
            done += 1
        counts.put(done)

    processes = [context.Process(target=client) for _ in range(clients)]
    for process in processes:
        process.start()
    ready.wait(timeout=60)
    start = time.perf_counter()
    total = sum(counts.get(timeout=seconds + 60) for _ in processes)
    elapsed = time.perf_counter() - start
    for process in processes:
        process.join()
    return total / elapsed


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB."""
    return float(psutil.Process(pid).memory_info().rss) / 1e6


def pss_mb(pid: int) -> float:
    """Proportional set size of one process (shared pages split among sharers), in MB."""
    return float(psutil.Process(pid).memory_full_info().pss) / 1e6


def sample_pss_of_children(
    parent: int, start: Callable[[], Callable[[], object]], accept: Callable[[psutil.Process], bool]
) -> tuple[float, float]:
    """Start a long call, find the process running it under `parent`, return its (RSS, PSS) MB.

    `start` begins the call and returns a function that waits for it to end. Of several
    matching processes (a sandbox launcher and the interpreter it runs) the largest counts.
    """
    wait = start()
    deadline = time.monotonic() + 10
    found: list[tuple[float, float]] = []
    while not found and time.monotonic() < deadline:
        time.sleep(0.3)  # let the call's process finish importing before sampling
        for child in psutil.Process(parent).children(recursive=True):
            try:
                if accept(child):
                    found.append((child.memory_info().rss / 1e6, pss_mb(child.pid)))
            except psutil.NoSuchProcess:
                continue
    wait()
    if not found:
        raise RuntimeError("the process running the call was not found")
    return max(found, key=lambda sizes: sizes[1])
