"""Composition of `fnhost serve`: the database, the API, the scheduler and the retention loop;
with the local executor also the dispatcher and the builder (one process runs everything), with
the Ray executor none of them (an API replica: `fnhost dispatcher` runs calls and builds)."""

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from fastapi import FastAPI

from fnhost import isolation, sandbox
from fnhost.api.app import BackgroundTask, create_app
from fnhost.builder.builder import Builder
from fnhost.builder.environments import Environments
from fnhost.builder.local import LocalSite
from fnhost.builder.runtimes import Runtime, discover
from fnhost.cli.metrics_listener import serve_metrics
from fnhost.cli.platform import open_platform
from fnhost.executor.dispatcher import Dispatcher
from fnhost.executor.local import LocalExecutor
from fnhost.scheduler.loop import Scheduler
from fnhost.scheduler.retention import Retention
from fnhost.services import listening
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


def log_isolation(isolated: sandbox.Isolation) -> None:
    """What protects the machine from function code, said once at start (warned where less)."""
    for full, message, summary in [
        (isolated.kind == "bwrap", "function isolation: %s", isolated.summary()),
        (isolated.cgroups is not None, "function resources: %s", isolated.resources_summary()),
        (isolated.seccomp is not None, "function system calls: %s", isolated.seccomp_summary()),
    ]:
        (logger.info if full else logger.warning)(message, summary)


def shared_loops(platform: Platform) -> list[BackgroundTask]:
    """What every process on the database runs: with PostgreSQL, the listener for what the
    others change; and the metrics listener when FNHOST_METRICS_PORT is set."""
    loops: list[BackgroundTask] = [partial(serve_metrics, platform)]
    if platform.db.dialect == "postgresql":
        loops.append(partial(listening.listen, platform))
    return loops


def _runs_calls(
    settings: Settings, platform: Platform, runtimes: dict[str, Runtime]
) -> list[BackgroundTask]:
    """The dispatcher and the builder of one machine, connected to the notifier."""
    environments_dir = settings.environments_dir
    assert platform.isolation is not None
    calls_sandbox = sandbox.Sandbox(
        platform.isolation,
        hidden=[settings.server.data_dir.resolve(), environments_dir.resolve()],
        slots=settings.calls.max_concurrent_calls + settings.builds.build_concurrency,
    )
    dispatcher = Dispatcher(platform, LocalExecutor(settings, calls_sandbox))
    environments = Environments(
        environments_dir,
        runtimes=runtimes,
        default_sdk=settings.builds.default_cognite_sdk_version,
        build_timeout_seconds=settings.builds.environment_build_timeout_seconds,
    )
    builder = Builder(platform, LocalSite(platform, environments, calls_sandbox))
    platform.notifier.connect(dispatcher=dispatcher, builder=builder)
    return [dispatcher.run, builder.run]


@asynccontextmanager
async def embedded(settings: Settings) -> AsyncIterator[Server]:
    """Everything of a server, ready to serve; disposed of on exit."""
    replica = settings.executor.executor == "ray"
    runtimes = discover(settings.builds.runtime_interpreters)
    if settings.builds.default_runtime not in runtimes:
        logger.warning(
            "default runtime %s not found on this machine; available: %s",
            settings.builds.default_runtime,
            ", ".join(runtimes) or "none",
        )
    versions = {name: runtime.version for name, runtime in runtimes.items()}
    isolated = None
    if not replica:  # a replica runs no function code
        isolated = isolation.detect(settings)
        log_isolation(isolated)
    async with open_platform(settings, runtimes=versions, isolation=isolated) as platform:
        token, token_file = _admin_token(settings)
        await tokens_service.register_admin(platform, token=token)
        scheduler = Scheduler(platform)
        platform.notifier.connect(scheduler=scheduler)
        background = [scheduler.run, Retention(platform).run, *shared_loops(platform)]
        if replica:
            logger.info(
                "API replica: calls and builds run on the Ray cluster, by `fnhost dispatcher`",
                extra={"action": "replica"},
            )
        else:
            background += _runs_calls(settings, platform, runtimes)
        app = create_app(platform, background=background)
        yield Server(app=app, platform=platform, admin_token=token, admin_token_file=token_file)
