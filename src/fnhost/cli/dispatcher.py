"""`fnhost dispatcher`: runs the calls and builds of a scaled-out deployment on a Ray cluster.

It is the cluster's Ray driver. Several may run (on machines that are Ray nodes); one is active,
holding the dispatchers' lock in PostgreSQL, the others stand by and the first to get the lock
takes over when the active one stops or dies (executor/takeover.py). The active one claims queued
calls, runs them on instances on the nodes, records their ends, and builds new functions on a
node. It stops dispatching the moment it cannot vouch for its lock, and on SIGTERM it lets the
calls running end (FNHOST_SHUTDOWN_GRACE_SECONDS) and leaves the others to the next active one.
"""

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import typer
import uvloop

from fnhost import timings
from fnhost.builder.builder import Builder
from fnhost.cli import server_logs
from fnhost.cli.platform import DataDirOption, load_settings, open_platform
from fnhost.cli.server import shared_loops
from fnhost.executor.takeover import TakeoverDispatcher
from fnhost.services import dispatch as dispatch_service
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store.leadership import DispatcherLock

if TYPE_CHECKING:
    from fnhost.executor.ray.executor import RayExecutor

logger = logging.getLogger(__name__)


def dispatcher(data_dir: DataDirOption = None) -> None:
    """Run a dispatcher: calls and builds on the Ray cluster (one active, others standing by)."""
    settings = load_settings(data_dir)
    server_logs.configure(settings.logs.log_format)
    if settings.executor.executor != "ray":
        typer.secho(
            "fnhost dispatcher runs calls on a Ray cluster: set FNHOST_EXECUTOR=ray, "
            "FNHOST_RAY_ADDRESS and FNHOST_DATABASE_URL (PostgreSQL), as the API replicas have",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    try:
        # Imported only here: nothing of Ray is loaded by any other command.
        from fnhost.executor.ray import cluster
    except ModuleNotFoundError as error:
        if error.name != "ray":
            raise
        typer.secho(
            "fnhost dispatcher needs Ray, which is not installed: pip install 'fnhost[ray]'",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1) from None
    assert settings.executor.ray_address is not None  # the settings refuse ray without it
    # Joined at once, also to stand by: a takeover then needs no connection first.
    cluster.connect(settings.executor.ray_address)
    try:
        uvloop.run(_dispatch(settings))
    finally:
        cluster.disconnect()


async def _dispatch(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_platform(settings) as platform:
        loops = [asyncio.create_task(run()) for run in shared_loops(platform)]
        lock = DispatcherLock(settings.database_url)
        try:
            while not stop.is_set():
                logger.info("standing by for the dispatchers' lock", extra={"action": "standby"})
                if not await _until_stopped(lock.acquire(), stop):
                    break
                logger.info("active: dispatching", extra={"action": "active"})
                if await _active(platform, lock, stop):
                    break
                logger.error(
                    "lost the dispatchers' lock (its database connection): stopped dispatching",
                    extra={"action": "lock_lost"},
                )
                await lock.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timings.LOCK_LOST_BACKOFF_SECONDS)
        finally:
            await lock.release()
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
    logger.info("dispatcher stopped", extra={"action": "stopped"})


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` to its end (True), unless `stop` is set first (False: `work` is cancelled)."""
    working = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if working in done:
            working.result()
            return True
        return False
    finally:
        for task in (working, stopping):
            task.cancel()
        await asyncio.gather(working, stopping, return_exceptions=True)


def _executor(settings: Settings, platform: Platform, claimant: str) -> "RayExecutor":
    from fnhost.executor.ray.executor import RayExecutor

    async def handing(call_id: int, instance: str, node: str) -> None:
        await dispatch_service.hand_over(
            platform, claimant=claimant, call_id=call_id, instance=instance, node=node
        )

    return RayExecutor.connect(settings, platform.blobs.get, handing=handing)


async def _active(platform: Platform, lock: DispatcherLock, stop: asyncio.Event) -> bool:
    """Dispatch and build while the lock holds; True when stopped (SIGTERM), False when the
    lock was lost."""
    from fnhost.executor.ray.builds import RaySite

    claimant = uuid.uuid4().hex
    executor = _executor(platform.settings, platform, claimant)
    dispatching = TakeoverDispatcher(platform, executor, claimant=claimant)
    builder = Builder(platform, RaySite(executor))
    platform.notifier.connect(dispatcher=dispatching, builder=builder)
    parts = [asyncio.create_task(dispatching.run()), asyncio.create_task(builder.run())]
    lost = asyncio.create_task(lock.lost())
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({lost, stopping, *parts}, return_when=asyncio.FIRST_COMPLETED)
        for part in parts:
            if part in done:
                part.result()  # a part ends only when it fails: say how
                raise RuntimeError("a part of the dispatcher ended by itself")
        if stopping in done:
            await dispatching.drain(platform.settings.server.shutdown_grace_seconds)
        return stopping in done
    finally:
        for task in (*parts, lost, stopping):
            task.cancel()
        await asyncio.gather(*parts, lost, stopping, return_exceptions=True)
