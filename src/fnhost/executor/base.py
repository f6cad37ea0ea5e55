"""The interface between the dispatcher and whatever runs calls: local processes, or Ray actors."""

from collections.abc import Awaitable, Callable
from typing import Protocol

from fnhost.lifecycle import CallEnd
from fnhost.services.jobs import CallJob, FunctionSpec

# Receives each log line of a running call: (epoch ms, text).
LogSink = Callable[[int, str], None]


class Executor(Protocol):
    async def run(self, job: CallJob, log: LogSink) -> CallEnd:
        """Run one call to its end and describe how it ended. Never raises for user errors."""
        ...

    def prewarm(self, spec: FunctionSpec) -> None:
        """Get ready to run the function's calls (start its instance) in the background."""
        ...

    async def close(self) -> None:
        """Stop everything this executor started."""
        ...


class Resumable(Executor, Protocol):
    """An executor whose instances outlive the dispatcher (Ray's detached actors): a call handed
    to one is followed to its end by whichever dispatcher is active."""

    async def resume(self) -> None:
        """Take in the instances earlier dispatchers left."""
        ...

    async def follow(self, call_id: int, instance: str, node: str, log: LogSink) -> CallEnd | None:
        """Follow a call an earlier dispatcher handed to `instance` (on `node`) to its end; None
        when the instance never received it (it refuses it from now on: the call never ran)."""
        ...

    async def leave(self) -> None:
        """Stop, leaving the instances and the calls they run to the next dispatcher."""
        ...


Flush = Callable[[list[tuple[int, str]]], Awaitable[None]]
