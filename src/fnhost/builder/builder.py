"""The builder: turns Queued functions into Ready (or Failed) ones, a few at a time, on a build
site: this machine (builder/local.py), or a node of a Ray cluster (executor/ray/builds.py)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from fnhost import metrics, timings
from fnhost.builder.errors import BuildFailed
from fnhost.services import deployments
from fnhost.services.jobs import FunctionSpec
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    """A function's build that succeeded."""

    environment: str  # the environment's interpreter on this machine ("" elsewhere)
    runtime_version: str  # e.g. "Python 3.11.7"


class Site(Protocol):
    """Where functions are built and checked."""

    async def prepare(self) -> None:
        """Get ready, once, at the builder's start."""
        ...

    async def tidy(self, building: set[int]) -> None:
        """Between passes: remove what no function needs (`building`: functions being built)."""
        ...

    async def build(self, spec: FunctionSpec) -> Built:
        """Build and check one function; BuildFailed says what is wrong with it."""
        ...

    def recorded(self, function_id: int) -> None:
        """The outcome of the function's build is in the database."""
        ...


class Builder:
    def __init__(self, platform: Platform, site: Site) -> None:
        self._platform = platform
        self._site = site
        self._wakeup = asyncio.Event()
        self._building: set[int] = set()
        self._slots = asyncio.Semaphore(platform.settings.builds.build_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Build until cancelled."""
        await deployments.requeue_interrupted(self._platform)
        self._spawn(self._site.prepare())
        try:
            while True:
                self._wakeup.clear()
                await self._start_pending()
                await self._site.tidy(self._building)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timings.BUILDER_POLL_SECONDS)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _start_pending(self) -> None:
        for function_id in await deployments.pending(self._platform):
            if function_id in self._building:
                continue
            self._building.add(function_id)
            self._spawn(self._build(function_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _build(self, function_id: int) -> None:
        try:
            async with self._slots:
                spec = await deployments.start(self._platform, function_id=function_id)
                if spec is None:
                    return
                started = time.monotonic()
                outcome = "failed"
                try:
                    built = await self._site.build(spec)
                except BuildFailed as failure:
                    await deployments.fail(
                        self._platform,
                        function_id=function_id,
                        message=failure.message,
                        trace=failure.trace,
                    )
                except Exception as error:
                    logger.exception("build crashed", extra={"action": "build_crashed"})
                    await deployments.fail(
                        self._platform,
                        function_id=function_id,
                        message=f"fnhost could not build the function: {error}",
                        trace="",
                    )
                else:
                    outcome = "ready"
                    await deployments.succeed(
                        self._platform,
                        function_id=function_id,
                        environment=built.environment,
                        runtime_version=built.runtime_version,
                    )
                metrics.BUILDS.labels(outcome).inc()
                metrics.BUILD_DURATION.labels(outcome).observe(time.monotonic() - started)
        finally:
            self._building.discard(function_id)
            self._site.recorded(function_id)
