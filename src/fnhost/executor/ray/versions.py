"""What the Ray executor tracks of one function version: its instances, the starts under way,
the calls waiting for a slot; and how a failed start reads as a deploy's failure."""

import asyncio

from fnhost.builder.errors import BuildFailed
from fnhost.executor.instance import InstanceFailed
from fnhost.executor.ray.placement import Placed
from fnhost.services.jobs import FunctionSpec


class ImportFailed(InstanceFailed):
    """The instance could not start because the handler's import failed."""


class Version:
    """The instances of one function version, and its calls waiting for a free slot."""

    def __init__(self) -> None:
        self.ready: list[Placed] = []
        self.starting: dict[str, asyncio.Task[None]] = {}  # node id -> the start there
        self.waiting = 0
        self.failure: InstanceFailed | None = None  # of the last start that failed
        self.failures = 0
        self.failed_on: set[str] = set()  # nodes where its last start failed
        self._changed: asyncio.Future[None] | None = None

    @property
    def running(self) -> int:
        return sum(placed.running for placed in self.ready)

    def hosting(self) -> set[str]:
        return {placed.node_id for placed in self.ready} | set(self.starting)

    async def changed(self) -> None:
        """Until an instance starts, fails to start, is lost, or frees a slot."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._changed)

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set_result(None)
            self._changed = None


def build_failure(failure: InstanceFailed, spec: FunctionSpec) -> BuildFailed:
    """A deploy's failure, in the words of a deploy on one machine."""
    if isinstance(failure, ImportFailed):
        return BuildFailed(
            f"Importing {spec.function_path} failed: {failure.message}", failure.trace
        )
    return BuildFailed(failure.message, failure.trace)
