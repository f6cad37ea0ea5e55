"""The builder: turns Queued functions into Ready (or Failed) ones, a few at a time."""

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from fnhost import clock, metrics, timings
from fnhost.builder import unpack, validate
from fnhost.builder.environments import Environments, name_of
from fnhost.builder.errors import BuildFailed
from fnhost.runtime import handler
from fnhost.sandbox import Launch, Limits, Sandbox
from fnhost.services import deployments
from fnhost.services.deployments import BuildJob
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


class Builder:
    def __init__(self, platform: Platform, environments: Environments, sandbox: Sandbox) -> None:
        self._platform = platform
        self._environments = environments
        self._sandbox = sandbox
        self._layout = platform.settings.layout
        self._layout.work.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._wakeup = asyncio.Event()
        self._building: set[int] = set()
        self._slots = asyncio.Semaphore(platform.settings.builds.build_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Interpreter paths of environments handed to builds not yet recorded in the database.
        self._fresh: dict[int, str] = {}

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Build until cancelled."""
        await deployments.requeue_interrupted(self._platform)
        self._spawn(self._prepare_base())
        try:
            while True:
                self._wakeup.clear()
                await self._start_pending()
                await self._remove_deleted()
                await self._collect_environments()
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

    async def _prepare_base(self) -> None:
        """Build the environment of functions without requirements ahead of their deploys."""
        runtime = self._platform.settings.builds.default_runtime
        if runtime not in self._platform.runtimes:
            return
        logger.info(
            "preparing the base environment (%s, no requirements)",
            runtime,
            extra={"action": "base_environment_started"},
        )
        started = time.monotonic()
        try:
            environment = await self._environments.prepare_base(runtime)
        except BuildFailed as failure:
            logger.warning(
                "could not prepare the base environment in %.2f s: %s",
                time.monotonic() - started,
                failure.message,
                extra={"action": "base_environment_failed"},
            )
            return
        logger.info(
            "base environment ready: %s in %.2f s",
            environment.python,
            time.monotonic() - started,
            extra={"action": "base_environment_ready"},
        )

    async def _collect_environments(self) -> None:
        """Delete cached environments no function has used for the keep period."""
        # Read before the database, so a build that finishes in between is seen in one of them.
        fresh_before = {name_of(python) for python in self._fresh.values()}
        recorded = {
            name_of(python) for python in await deployments.environments_in_use(self._platform)
        }

        def used(name: str) -> bool:
            live = {name_of(python) for python in self._fresh.values()}
            return name in recorded or name in fresh_before or name in live

        await self._environments.collect(
            used=used,
            keep_seconds=self._platform.settings.builds.environment_keep_hours * 3600,
            now=clock.now().timestamp(),
        )

    async def _remove_deleted(self) -> None:
        """Remove the code of functions that no longer exist."""
        if not self._layout.functions.exists():
            return
        existing = await deployments.existing_ids(self._platform)
        for directory in self._layout.functions.iterdir():
            if directory.name.isdigit() and int(directory.name) not in existing | self._building:
                await asyncio.to_thread(shutil.rmtree, directory, True)

    async def _build(self, function_id: int) -> None:
        try:
            async with self._slots:
                job = await deployments.start(self._platform, function_id=function_id)
                if job is None:
                    return
                started = time.monotonic()
                outcome = "failed"
                try:
                    python, version = await self._deploy(job)
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
                        environment=python,
                        runtime_version=version,
                    )
                metrics.BUILDS.labels(outcome).inc()
                metrics.BUILD_DURATION.labels(outcome).observe(time.monotonic() - started)
        finally:
            self._building.discard(function_id)
            self._fresh.pop(function_id, None)

    async def _deploy(self, job: BuildJob) -> tuple[str, str]:
        settings = self._platform.settings
        content = self._platform.blobs.get(job.code_digest)
        home = self._layout.functions / str(job.function_id)
        await asyncio.to_thread(shutil.rmtree, home, True)
        staging = home / "unpacked"
        await asyncio.to_thread(
            unpack.unpack,
            content,
            staging,
            max_bytes=settings.builds.code_max_unpacked_bytes,
            max_files=settings.builds.code_max_files,
        )
        root = validate.find_code_root(staging, job.function_path)
        validate.check_handle(root / job.function_path, job.function_path)
        requirements_file = root / "requirements.txt"
        requirements = requirements_file.read_text() if requirements_file.is_file() else ""
        environment = await self._environments.ensure(
            requirements=requirements,
            runtime=job.runtime,
            index_url=job.index_url,
            extra_index_urls=job.extra_index_urls,
        )
        self._fresh[job.function_id] = environment.python
        logger.info(
            "function %d uses environment %s (%s)",
            job.function_id,
            Path(environment.python).parent.parent.name,
            "built" if environment.built else "cached",
            extra={"action": "environment_chosen", "function_id": job.function_id},
        )
        code = self._layout.code(job.function_id)
        root.rename(code)
        await self._import_check(environment.python, code, job.function_path)
        return environment.python, environment.runtime_version

    async def _import_check(self, python: str, code: Path, function_path: str) -> None:
        """Import the handler once in its environment, so import errors fail the deploy.

        It is user code: it runs in the sandbox, within the largest limits a call may have.
        """
        settings = self._platform.settings
        limits = Limits.for_function(
            settings,
            cpu=settings.calls.function_cpu_max,
            memory_gb=settings.calls.function_memory_max_gb,
        )
        with (
            tempfile.TemporaryDirectory(dir=self._layout.work, prefix="import-check-") as scratch,
            self._sandbox.launch(
                python=python, code_dir=code, scratch=Path(scratch), limits=limits
            ) as launch,
        ):
            await self._check_import(launch, function_path)

    async def _check_import(self, launch: Launch, function_path: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *launch.prefix,
            "-I",
            launch.handler,
            launch.code_dir,
            function_path,
            cwd=launch.cwd,
            pass_fds=launch.fds,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": launch.home,
                "TMPDIR": launch.home,
            },
            start_new_session=True,
        )
        timeout = self._platform.settings.builds.handler_import_timeout_seconds
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            raise BuildFailed(
                f"Importing {function_path} took longer than {timeout} seconds "
                "(FNHOST_HANDLER_IMPORT_TIMEOUT_SECONDS)"
            ) from None
        finally:
            # Whatever the handler started at import time ends with the check.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        output = out.decode(errors="replace")
        if process.returncode == handler.CHECK_NO_HANDLE:
            raise BuildFailed(f"{function_path} defines no callable 'handle'")
        if process.returncode != 0:
            last = output.strip().splitlines()[-1] if output.strip() else "import failed"
            raise BuildFailed(f"Importing {function_path} failed: {last}", trace=output)
