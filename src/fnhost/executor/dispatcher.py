"""The dispatcher: runs calls on an executor within the concurrency limit and writes each
outcome back. Calls come two ways: straight from the request that creates them, into a slot
reserved for it (the fast path), or claimed from the queue in the database (calls created
while every slot was taken, by the scheduler, or by another process). A wake-up (a call was
queued) means no queued call waits for a poll."""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fnhost import clock, log_context, metrics, timings
from fnhost.executor.base import Executor, LogSink
from fnhost.executor.logs import CallLogBuffer
from fnhost.lifecycle import CallEnd
from fnhost.services import dispatch as dispatch_service
from fnhost.services import endings
from fnhost.services.jobs import CallJob
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


# Runs one call (or follows it) to its end, given where its log lines go; None when its end is
# not this dispatcher's to record.
CallWork = Callable[[LogSink], Awaitable[CallEnd | None]]


class Dispatcher:
    def __init__(
        self, platform: Platform, executor: Executor, *, claimant: str | None = None
    ) -> None:
        self._platform = platform
        self._executor = executor
        self._claimant = claimant or uuid.uuid4().hex
        self._wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._prewarming: set[asyncio.Task[None]] = set()
        self._reserved = 0
        # Until a claim comes back short, queued calls may be waiting: a new call must not take
        # a free slot ahead of them. Also false while not running (no slot to offer).
        self._queue_empty = False
        self._stopping = False

    @property
    def claimant(self) -> str:
        return self._claimant

    def wake(self) -> None:
        """A call was queued."""
        self._queue_empty = False
        self._wakeup.set()

    def reserve(self) -> bool:
        if not self._queue_empty or self._free_slots() <= 0:
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        self._reserved -= 1
        self._wakeup.set()

    def start(self, job: CallJob) -> None:
        self._reserved -= 1
        if not self._stopping:  # else it ends as interrupted, like the calls that were running
            self._launch(job)

    def _free_slots(self) -> int:
        return (
            self._platform.settings.calls.max_concurrent_calls - len(self._running) - self._reserved
        )

    def function_ready(self, function_id: int) -> None:
        """A function became Ready: warm its instance before its first call arrives."""
        task = asyncio.create_task(self._prewarm(function_id))
        self._prewarming.add(task)
        task.add_done_callback(self._prewarming.discard)

    async def _prewarm(self, function_id: int) -> None:
        spec = await dispatch_service.function_spec(self._platform, function_id=function_id)
        if spec is not None:
            self._executor.prewarm(spec)

    async def run(self) -> None:
        """Dispatch until cancelled; on the way out, end the calls this dispatcher was running."""
        await dispatch_service.register(self._platform, claimant=self._claimant)
        await self._recover()
        beating = asyncio.create_task(self._beat())
        try:
            while True:
                self._wakeup.clear()
                if not self._queue_empty:
                    await self._dispatch_free_slots()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timings.DISPATCHER_POLL_SECONDS)
                except TimeoutError:
                    # Calls queued by other processes wake nobody here: look for them now.
                    self._queue_empty = False
        finally:
            self._queue_empty = False  # no more slots to offer
            self._stopping = True
            beating.cancel()
            await self._stop()

    async def _beat(self) -> None:
        """Prove liveness, and end the calls of dispatchers that died (another replica's)."""
        while True:
            await asyncio.sleep(timings.DISPATCHER_HEARTBEAT_SECONDS)
            try:
                await dispatch_service.heartbeat(self._platform, claimant=self._claimant)
                await self._recover()
                await dispatch_service.end_calls_of_failed_deploys(self._platform)
            except Exception:
                logger.exception("heartbeat failed", extra={"action": "heartbeat_failed"})

    async def _recover(self) -> None:
        """Calls left running by dispatchers that are gone (an earlier process of this server,
        another replica's) can never finish: they end, saying so."""
        await dispatch_service.recover(self._platform)

    async def _dispatch_free_slots(self) -> None:
        free = self._free_slots()
        if free <= 0:
            return
        try:
            jobs = await dispatch_service.claim(self._platform, limit=free, claimant=self._claimant)
        except Exception:
            logger.exception("claiming calls failed", extra={"action": "claim_failed"})
            return
        # Short of the limit: nothing else was queued (a call queued since then wakes us).
        if len(jobs) < free:
            self._queue_empty = True
        for job in jobs:
            self._launch(job)

    def _launch(self, job: CallJob) -> None:
        self._occupy(self._run(job))

    def _occupy(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in a slot."""
        task = asyncio.create_task(work)
        self._running.add(task)
        metrics.CALLS_RUNNING_HERE.set(len(self._running))
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        metrics.CALLS_RUNNING_HERE.set(len(self._running))
        self._wakeup.set()  # a slot is free

    async def _run(self, job: CallJob) -> None:
        function_id = job.function.function_id
        waited_ms = max(clock.now_ms() - job.accepted_time, 0)
        metrics.CALL_QUEUE_WAIT.labels(job.project, str(function_id)).observe(waited_ms / 1000)

        async def work(log: LogSink) -> CallEnd:
            return await self._executor.run(job, log)

        await self._record(job.project, function_id, job.call_id, work)

    async def _record(self, project: str, function_id: int, call_id: int, work: CallWork) -> None:
        """Run `work` with a log buffer for the call's lines, then record the call's end."""
        log_context.bind(project=project, function_id=function_id, call_id=call_id)

        async def store(lines: list[tuple[int, str]]) -> None:
            await dispatch_service.append_logs(self._platform, call_id=call_id, lines=lines)

        calls = self._platform.settings.calls
        logs = CallLogBuffer(
            store, max_bytes=calls.call_log_max_bytes, max_line_chars=calls.log_line_max_chars
        )
        started = time.monotonic()
        try:
            end = await work(logs.add)
        except asyncio.CancelledError:
            await logs.close()
            raise
        except dispatch_service.Superseded:
            logger.warning(
                "call taken over by another dispatcher: left to it",
                extra={"action": "call_superseded"},
            )
            end = None
        except Exception as error:
            logger.exception("executor failed", extra={"action": "executor_failed"})
            end = CallEnd.failed(f"fnhost could not run the call: {error}", at=clock.now_ms())
        await logs.close()
        if end is None:
            return
        metrics.CALL_DURATION.labels(project, str(function_id)).observe(time.monotonic() - started)
        await endings.end(self._platform, call_ids=[call_id], end=end, claimant=self._claimant)

    async def _stop(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await asyncio.shield(dispatch_service.recover(self._platform, leaving=self._claimant))
        await self._executor.close()
