"""The local executor: each call is a fork of its function's warm instance (a zygote inside
the sandbox) on this machine."""

import asyncio
import contextlib

from fnhost.executor.base import LogSink
from fnhost.executor.call import CallRunner, could_not_start
from fnhost.executor.instance import InstanceFailed
from fnhost.executor.pool import InstancePool
from fnhost.lifecycle import CallEnd
from fnhost.sandbox import Sandbox
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings


class LocalExecutor:
    """Runs calls on warm instances on this machine."""

    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._pool = InstancePool(settings, sandbox)
        self._calls = CallRunner(settings, tmp_limited=sandbox.isolation.kind == "bwrap")
        self._reaper: asyncio.Task[None] | None = None

    def prewarm(self, spec: FunctionSpec) -> None:
        """Start a function's instance now, so its first call is warm."""
        self._ensure_reaper()
        self._pool.prewarm(spec)

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._pool.reap())

    async def run(self, job: CallJob, log: LogSink) -> CallEnd:
        self._ensure_reaper()
        try:
            warm = await self._pool.get(job.function)
        except InstanceFailed as failure:
            return could_not_start(failure)
        return await self._calls.run(job, log, warm)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self._pool.close()
        # The server's cgroups go with its last instance (nothing else runs in them).
        if self._sandbox.isolation.cgroups is not None:
            self._sandbox.isolation.cgroups.close()
