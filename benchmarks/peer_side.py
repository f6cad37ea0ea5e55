"""The peers under test: Celery (prefork, concurrency 2) and RQ (2 workers, a fork per job),
both on the Redis at 127.0.0.1:6379, each in a Redis database of its own that is emptied
before and after the run."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks import tasks

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379"
CELERY_DB = 14
RQ_DB = 15
RQ_QUEUE = "fnhost-bench"
WORKERS = 2


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


class Peer:
    """A set of worker processes started by the benchmark and a way to call them."""

    name: str
    db: int

    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started_in = 0.0

    @property
    def url(self) -> str:
        return f"{REDIS}/{self.db}"

    def _spawn(self, command: list[str]) -> None:
        with (self.work / f"{self.name}.log").open("ab") as log:
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=_env(BENCH_CELERY_URL=self.url),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def start(self) -> None:
        """Start the workers; `started_in` is the time until the first call came back."""
        redis.Redis.from_url(self.url).flushdb()
        begin = time.perf_counter()
        self.launch()
        self.make_call()()
        self.started_in = time.perf_counter() - begin

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.Redis.from_url(self.url).flushdb()

    def idle_rss_mb(self) -> float:
        """Resident memory of every worker process (Redis itself not counted)."""
        total = 0
        for process in self.processes:
            root = psutil.Process(process.pid)
            for each in [root, *root.children(recursive=True)]:
                total += each.memory_info().rss
        return total / 1e6

    def launch(self) -> None:
        raise NotImplementedError

    def make_call(self) -> Callable[[], object]:
        """A caller (its own connections) of the trivial function, waiting for the result."""
        raise NotImplementedError

    def start_hold(self, seconds: float) -> Callable[[], object]:
        """Start a call that lasts `seconds`; returns a function that waits for its end."""
        raise NotImplementedError

    def is_call_process(self, process: psutil.Process) -> bool:
        raise NotImplementedError


class CeleryPeer(Peer):
    name = "celery"
    db = CELERY_DB

    def launch(self) -> None:
        self._spawn(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "benchmarks.peers",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(WORKERS),
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ]
        )

    def _app(self) -> Any:
        os.environ["BENCH_CELERY_URL"] = self.url
        from benchmarks import peers

        return peers.make_celery_app()

    def make_call(self) -> Callable[[], object]:
        app = self._app()
        return lambda: _check(app.send_task("bench.add_one", args=[{"x": 1}]).get(timeout=60))

    def start_hold(self, seconds: float) -> Callable[[], object]:
        result = self._app().send_task("bench.hold", args=[{"x": 1, "seconds": seconds}])
        return lambda: result.get(timeout=60)

    def is_call_process(self, process: psutil.Process) -> bool:
        # Prefork pool children are long-lived: any one is a warm instance.
        return process.ppid() == self.processes[0].pid


class RqPeer(Peer):
    name = "rq"
    db = RQ_DB

    def launch(self) -> None:
        rq = str(Path(sys.executable).parent / "rq")
        for _ in range(WORKERS):
            self._spawn([rq, "worker", "--url", self.url, "--logging_level", "WARNING", RQ_QUEUE])

    def _queue(self) -> Any:
        from rq import Queue

        # Results are awaited with a blocking read: longer than redis-py's default 5 s timeout.
        return Queue(RQ_QUEUE, connection=redis.Redis.from_url(self.url, socket_timeout=120))

    def make_call(self) -> Callable[[], object]:
        queue = self._queue()

        def call() -> object:
            job = queue.enqueue(tasks.add_one, {"x": 1}, result_ttl=600)
            result = job.latest_result(timeout=60)
            if result is None or result.type != result.Type.SUCCESSFUL:
                raise RuntimeError(f"RQ job {job.id} did not succeed: {result}")
            return _check(result.return_value)

        return call

    def start_hold(self, seconds: float) -> Callable[[], object]:
        job = self._queue().enqueue(tasks.hold, {"x": 1, "seconds": seconds})
        return lambda: job.latest_result(timeout=60)

    def is_call_process(self, process: psutil.Process) -> bool:
        # The work horse: a fork of a worker, alive for one job.
        return process.ppid() in {p.pid for p in self.processes}


def _check(response: Any) -> Any:
    if response != {"x": 2}:
        raise RuntimeError(f"unexpected response {response!r}")
    return response
