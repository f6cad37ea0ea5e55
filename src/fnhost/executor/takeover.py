"""The dispatcher of a scaled-out deployment (`fnhost dispatcher`), whose instances outlive it
(Ray's detached actors). One is active at a time (cli/dispatcher.py holds the lock); when it
stops or dies, the next active one takes over what it left:

- a call it claimed but never handed to an instance goes back to the queue (it never started);
- a call it handed over is asked of its instance: the instance's outcome is recorded; a call
  the instance never received is refused by it from then on, and queued again; a call whose
  instance is gone ends Failed, saying so.

Calls run at most once, and none is left running: the takeover is done again at every
heartbeat, so a call claimed by a dispatcher that had not yet seen it lost its lock is taken
over too (that dispatcher can no longer hand it over, nor record its end).
"""

import asyncio
import logging

from fnhost.executor.base import LogSink, Resumable
from fnhost.executor.dispatcher import Dispatcher
from fnhost.lifecycle import CallEnd
from fnhost.services import dispatch as dispatch_service
from fnhost.services.platform import Platform
from fnhost.store.calls import CallRecord

logger = logging.getLogger(__name__)


class TakeoverDispatcher(Dispatcher):
    def __init__(self, platform: Platform, executor: Resumable, *, claimant: str) -> None:
        super().__init__(platform, executor, claimant=claimant)
        self._resumable = executor
        self._resumed = False
        self._draining = False

    async def drain(self, seconds: float) -> None:
        """Claim nothing more, and give the calls running up to `seconds` to end."""
        self._draining = True
        if self._running:
            await asyncio.wait(self._running, timeout=seconds)

    def _free_slots(self) -> int:
        return 0 if self._draining else super()._free_slots()

    async def _recover(self) -> None:
        if not self._resumed:
            await self._resumable.resume()
            self._resumed = True
        taken = await dispatch_service.take_over(self._platform, claimant=self.claimant)
        handed = [call for call in taken if call.instance is not None and call.node is not None]
        never_handed = [call.id for call in taken if call not in handed]
        if never_handed:
            await dispatch_service.requeue(self._platform, call_ids=never_handed)
            self.wake()
        for call in handed:
            self._occupy(self._adopt(call))
        if taken:
            logger.info(
                "took over %d calls of earlier dispatchers (%d never handed to an instance)",
                len(taken),
                len(never_handed),
                extra={"action": "calls_taken_over", "call_ids": [call.id for call in taken]},
            )
        # What is left: the registry rows of dispatchers that are gone (their calls are ours).
        await super()._recover()

    async def _adopt(self, call: CallRecord) -> None:
        assert call.instance is not None and call.node is not None
        instance, node = call.instance, call.node

        async def work(log: LogSink) -> CallEnd | None:
            end = await self._resumable.follow(call.id, instance, node, log)
            if end is None:  # its instance never received it, and now never will
                await dispatch_service.requeue(self._platform, call_ids=[call.id])
                self.wake()
            return end

        await self._record(call.project, call.function_id, call.id, work)

    async def _stop(self) -> None:
        # The calls still running stay on their instances, for the next active dispatcher.
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self._resumable.leave()
