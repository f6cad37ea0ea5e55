"""Warm instances of functions: started when a function becomes Ready (or on its first call),
shared by all its calls, stopped when idle. At most one instance per function version, and at
most as many instances as calls may run at once (each holds a sandbox uid)."""

import asyncio
import logging
import os
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fnhost import clock, metrics, timings
from fnhost.executor.confinement import CallCgroups
from fnhost.executor.instance import Instance, InstanceFailed
from fnhost.sandbox import Launch, Limits, Sandbox
from fnhost.services.jobs import FunctionSpec
from fnhost.settings import Settings

logger = logging.getLogger(__name__)


def instance_environment(spec: FunctionSpec, home: str) -> dict[str, str]:
    """The process environment of a function's calls: its envVars over a minimal base.

    Nothing of the server's own environment (tokens, database URLs) is passed on.
    """
    base = {
        "PATH": f"{Path(spec.environment).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return {**base, **spec.env_vars}


@dataclass
class Warm:
    """A started instance, with what it holds (sandbox uid, scratch directory)."""

    instance: Instance
    launch: Launch
    limits: Limits
    resources: AsyncExitStack
    # The cgroups its calls run in; None: the machine has none (rlimits only).
    call_cgroups: CallCgroups | None


class InstancePool:
    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._warm: dict[tuple[int, str], Warm] = {}
        self._starting: dict[tuple[int, str], asyncio.Task[Warm]] = {}
        self._work = settings.layout.work
        self._work.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def get(self, spec: FunctionSpec) -> Warm:
        """The function's warm instance, started now if it has none (or its one died)."""
        key = (spec.function_id, spec.environment)
        warm = self._warm.get(key)
        if warm is not None and warm.instance.alive:
            return warm
        if warm is not None:
            await self._stop(key)
        task = self._starting.get(key)
        if task is None:
            task = self._starting[key] = asyncio.create_task(self._start(spec))
        try:
            warm = await asyncio.shield(task)
        finally:
            if task.done():
                self._starting.pop(key, None)
        self._warm[key] = warm
        metrics.INSTANCES_WARM.set(len(self._warm))
        return warm

    def prewarm(self, spec: FunctionSpec) -> None:
        """Start the function's instance in the background; a failure shows on its calls."""
        task = asyncio.create_task(self.get(spec))
        task.add_done_callback(_log_failure)

    async def _start(self, spec: FunctionSpec) -> Warm:
        await self._make_room()
        limits = Limits.for_function(self._settings, cpu=spec.cpu, memory_gb=spec.memory_gb)
        resources = AsyncExitStack()
        try:
            scratch = resources.enter_context(
                tempfile.TemporaryDirectory(dir=self._work, prefix=f"instance-{spec.function_id}-")
            )
            launch = resources.enter_context(
                self._sandbox.launch(
                    python=spec.environment,
                    code_dir=spec.code_dir,
                    scratch=Path(scratch),
                    limits=limits,
                )
            )
            join_fds = self._cgroup(resources, limits)
            try:
                instance = Instance(
                    [*launch.prefix, "-I", "-u", launch.zygote],
                    env=instance_environment(spec, launch.home),
                    cwd=launch.cwd,
                    pass_fds=launch.fds,
                    join_fds=join_fds,
                )
                resources.push_async_callback(instance.close)
                await asyncio.wait_for(
                    instance.start(
                        code_dir=launch.code_dir, function_path=spec.function_path, tmp=launch.home
                    ),
                    self._settings.calls.instance_start_timeout_seconds,
                )
            finally:
                for fd in join_fds:
                    os.close(fd)
            call_cgroups = self._call_cgroups(resources, limits, instance)
        except TimeoutError:
            await resources.aclose()
            metrics.INSTANCE_STARTS.labels("failed").inc()
            raise InstanceFailed(
                f"The function's instance did not start within "
                f"{self._settings.calls.instance_start_timeout_seconds} seconds "
                "(FNHOST_INSTANCE_START_TIMEOUT_SECONDS)"
            ) from None
        except BaseException as error:
            await resources.aclose()
            if isinstance(error, InstanceFailed):
                metrics.INSTANCE_STARTS.labels("failed").inc()
            raise
        metrics.INSTANCE_STARTS.labels("started").inc()
        logger.info(
            "instance started",
            extra={"action": "instance_started", "function_id": spec.function_id},
        )
        return Warm(instance, launch, limits, resources, call_cgroups)

    def _call_cgroups(
        self, resources: AsyncExitStack, limits: Limits, instance: Instance
    ) -> CallCgroups | None:
        """The cgroups of the instance's calls, the first one sent to it; None without cgroups."""
        cgroups = self._sandbox.isolation.cgroups
        if cgroups is None:
            return None
        calls = CallCgroups(cgroups, limits)
        resources.callback(calls.close)
        calls.prepare(instance)
        return calls

    def _cgroup(self, resources: AsyncExitStack, limits: Limits) -> list[int]:
        """The instance's own cgroup (the zygote and its spare; each call gets another), removed
        with the instance; the descriptors the zygote joins it by (none without cgroups)."""
        cgroups = self._sandbox.isolation.cgroups
        if cgroups is None:
            return []
        try:
            group = cgroups.create("instance", cpu=limits.cpu, memory_bytes=limits.memory_bytes)
            resources.callback(cgroups.discard, group)
            return group.join_fds()
        except OSError as error:
            raise InstanceFailed(
                f"The function's instance could not get its cgroup: {error}"
            ) from None

    async def _make_room(self) -> None:
        """Stop the least recently used idle instance when every slot is taken."""
        if len(self._warm) + len(self._starting) <= self._settings.calls.max_concurrent_calls:
            return
        idle = [(w.instance.last_used, k) for k, w in self._warm.items() if not w.instance.running]
        if idle:
            await self._stop(min(idle)[1])

    async def _stop(self, key: tuple[int, str]) -> None:
        warm = self._warm.pop(key, None)
        metrics.INSTANCES_WARM.set(len(self._warm))
        if warm is not None:
            await warm.resources.aclose()

    async def reap(self) -> None:
        """Stop idle instances, until cancelled."""
        idle_for = timedelta(seconds=self._settings.calls.instance_idle_seconds)
        while True:
            await asyncio.sleep(timings.INSTANCE_REAP_SECONDS)
            now = clock.now()
            for key, warm in list(self._warm.items()):
                stale = not warm.instance.running and now - warm.instance.last_used > idle_for
                if stale or not warm.instance.alive:
                    await self._stop(key)

    async def close(self) -> None:
        for task in self._starting.values():
            task.cancel()
        for key in list(self._warm):
            await self._stop(key)


def _log_failure(task: "asyncio.Task[Warm]") -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.warning(
            "instance did not start: %s",
            getattr(error, "message", error),
            extra={"action": "instance_failed"},
        )
