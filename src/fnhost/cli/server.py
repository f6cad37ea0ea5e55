"""Composition of the embedded deployment: database, API, dispatcher, builder, scheduler, one
process."""

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from fnhost import isolation, sandbox
from fnhost.api.app import create_app
from fnhost.builder.builder import Builder
from fnhost.builder.environments import Environments
from fnhost.builder.runtimes import discover
from fnhost.cli.platform import open_platform
from fnhost.executor.base import Executor
from fnhost.executor.dispatcher import Dispatcher
from fnhost.executor.local import LocalExecutor
from fnhost.scheduler.loop import Scheduler
from fnhost.scheduler.retention import Retention
from fnhost.services import tokens as tokens_service
from fnhost.services.platform import Platform
from fnhost.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Server:
    app: FastAPI
    platform: Platform
    admin_token: str
    admin_token_file: str | None


def _admin_token(settings: Settings) -> tuple[str, str | None]:
    """The configured admin token, or the one in the data directory (created on first start)."""
    if settings.server.admin_token:
        return settings.server.admin_token, None
    path = settings.layout.admin_token
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip(), str(path)


def _log_isolation(isolated: sandbox.Isolation) -> None:
    """What protects the machine from function code, said once at start (warned where less)."""
    for full, message, summary in [
        (isolated.kind == "bwrap", "function isolation: %s", isolated.summary()),
        (isolated.cgroups is not None, "function resources: %s", isolated.resources_summary()),
        (isolated.seccomp is not None, "function system calls: %s", isolated.seccomp_summary()),
    ]:
        (logger.info if full else logger.warning)(message, summary)


def _executor(settings: Settings, calls_sandbox: sandbox.Sandbox, platform: Platform) -> Executor:
    """What runs calls, as FNHOST_EXECUTOR says."""
    if settings.executor.executor == "local":
        return LocalExecutor(settings, calls_sandbox)
    try:
        # Imported only when selected: nothing of Ray is loaded otherwise.
        from fnhost.executor.ray.executor import RayExecutor
    except ModuleNotFoundError as error:
        if error.name != "ray":
            raise
        raise SystemExit(
            "FNHOST_EXECUTOR=ray needs Ray, which is not installed: pip install 'fnhost[ray]'"
        ) from None
    return RayExecutor.connect(settings, platform.blobs.get)


@asynccontextmanager
async def embedded(settings: Settings) -> AsyncIterator[Server]:
    """Everything of an embedded server, ready to serve; disposed of on exit."""
    runtimes = discover(settings.builds.runtime_interpreters)
    if settings.builds.default_runtime not in runtimes:
        logger.warning(
            "default runtime %s not found on this machine; available: %s",
            settings.builds.default_runtime,
            ", ".join(runtimes) or "none",
        )
    versions = {name: runtime.version for name, runtime in runtimes.items()}
    isolated = isolation.detect(settings)
    _log_isolation(isolated)
    async with open_platform(settings, runtimes=versions, isolation=isolated) as platform:
        environments_dir = settings.environments_dir
        calls_sandbox = sandbox.Sandbox(
            isolated,
            hidden=[settings.server.data_dir.resolve(), environments_dir.resolve()],
            slots=settings.calls.max_concurrent_calls + settings.builds.build_concurrency,
        )
        token, token_file = _admin_token(settings)
        await tokens_service.register_admin(platform, token=token)
        executor = _executor(settings, calls_sandbox, platform)
        dispatcher = Dispatcher(platform, executor)
        environments = Environments(
            environments_dir,
            runtimes=runtimes,
            default_sdk=settings.builds.default_cognite_sdk_version,
            build_timeout_seconds=settings.builds.environment_build_timeout_seconds,
        )
        builder = Builder(platform, environments, calls_sandbox)
        scheduler = Scheduler(platform)
        platform.notifier.connect(dispatcher=dispatcher, builder=builder, scheduler=scheduler)
        retention = Retention(platform)
        app = create_app(
            platform, background=[dispatcher.run, builder.run, scheduler.run, retention.run]
        )
        yield Server(app=app, platform=platform, admin_token=token, admin_token_file=token_file)
