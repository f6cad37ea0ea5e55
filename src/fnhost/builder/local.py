"""Builds on this machine: the code unpacked into the data directory, the environment built with
uv into the shared cache, the handler imported once in the sandbox."""

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from fnhost import clock
from fnhost.builder import unpack, validate
from fnhost.builder.builder import Built
from fnhost.builder.environments import Environments, name_of
from fnhost.builder.errors import BuildFailed
from fnhost.runtime import handler
from fnhost.sandbox import Launch, Limits, Sandbox
from fnhost.services import deployments
from fnhost.services.jobs import FunctionSpec
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


class LocalSite:
    """The build `Site` of one machine."""

    def __init__(self, platform: Platform, environments: Environments, sandbox: Sandbox) -> None:
        self._platform = platform
        self._environments = environments
        self._sandbox = sandbox
        self._layout = platform.settings.layout
        self._layout.work.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Interpreter paths of environments handed to builds not yet recorded in the database.
        self._fresh: dict[int, str] = {}

    async def prepare(self) -> None:
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

    async def tidy(self, building: set[int]) -> None:
        await self._remove_deleted(building)
        await self._collect_environments()

    def recorded(self, function_id: int) -> None:
        self._fresh.pop(function_id, None)

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

    async def _remove_deleted(self, building: set[int]) -> None:
        """Remove the code of functions that no longer exist."""
        if not self._layout.functions.exists():
            return
        existing = await deployments.existing_ids(self._platform)
        for directory in self._layout.functions.iterdir():
            if directory.name.isdigit() and int(directory.name) not in existing | building:
                await asyncio.to_thread(shutil.rmtree, directory, True)

    async def build(self, spec: FunctionSpec) -> Built:
        settings = self._platform.settings
        content = await self._platform.blobs.get(spec.code_digest)
        home = self._layout.functions / str(spec.function_id)
        await asyncio.to_thread(shutil.rmtree, home, True)
        staging = home / "unpacked"
        await asyncio.to_thread(
            unpack.unpack,
            content,
            staging,
            max_bytes=settings.builds.code_max_unpacked_bytes,
            max_files=settings.builds.code_max_files,
        )
        root = validate.find_code_root(staging, spec.function_path)
        validate.check_handle(root / spec.function_path, spec.function_path)
        requirements_file = root / "requirements.txt"
        requirements = requirements_file.read_text() if requirements_file.is_file() else ""
        environment = await self._environments.ensure(
            requirements=requirements,
            runtime=spec.runtime,
            index_url=spec.index_url,
            extra_index_urls=list(spec.extra_index_urls),
        )
        self._fresh[spec.function_id] = environment.python
        logger.info(
            "function %d uses environment %s (%s)",
            spec.function_id,
            Path(environment.python).parent.parent.name,
            "built" if environment.built else "cached",
            extra={"action": "environment_chosen", "function_id": spec.function_id},
        )
        code = self._layout.code(spec.function_id)
        root.rename(code)
        await self._import_check(environment.python, code, spec.function_path)
        return Built(environment.python, environment.runtime_version)

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
