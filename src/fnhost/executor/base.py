"""The interface between the dispatcher and whatever runs calls (local processes today)."""

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


Flush = Callable[[list[tuple[int, str]]], Awaitable[None]]
