"""Calls as the dispatcher sees them: claim queued ones, record logs and outcomes, recover."""

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Row

from fnhost import clock
from fnhost.auth.secrets_box import SecretsUnreadable
from fnhost.services import sessions as sessions_service
from fnhost.services.call_events import CallEnd
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import dispatchers as dispatchers_store
from fnhost.store import functions as functions_store
from fnhost.store.tables import Dispatcher, Function

logger = logging.getLogger(__name__)

Terminal = Literal["completed", "failed", "timeout"]

# A dispatcher that has not beaten for this long is dead, and its running calls with it.
HEARTBEAT_SECONDS = 5
STALE_AFTER_SECONDS = 30


@dataclass(frozen=True)
class FunctionSpec:
    """What runs every call of one deployed function: the same for all of them."""

    function_id: int
    function_path: str
    code_dir: Path
    environment: str
    env_vars: dict[str, str]
    cpu: float
    memory_gb: float


@dataclass(frozen=True)
class CallJob:
    """Everything an executor needs to run one call, resolved before it starts."""

    call_id: int
    project: str
    function: FunctionSpec
    secrets: dict[str, str]
    data: Any
    call_info: dict[str, Any]
    timeout_seconds: int
    base_url: str
    token: str


@dataclass(frozen=True)
class Outcome:
    """How a call ended."""

    state: Terminal
    response: str | None = None
    error_message: str | None = None
    error_trace: str | None = None


def failed_deploy(message: str | None, trace: str | None, *, at: datetime) -> dict[str, Any]:
    """How a call of a function whose deploy failed ends: at once, with the deploy's reason."""
    return {
        "state": "failed",
        "end_time": clock.to_ms(at),
        "error_message": f"The function's deployment failed: {message}",
        "error_trace": trace or "",
    }


def _call_info(call: Row[Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"function_id": call.function_id, "call_id": call.id}
    if call.schedule_id is not None:
        info["schedule_id"] = call.schedule_id
        info["scheduled_time"] = call.scheduled_time
    return info


def _spec(platform: Platform, function: Function | Row[Any]) -> FunctionSpec:
    return FunctionSpec(
        function_id=function.id,
        function_path=function.function_path,
        code_dir=platform.settings.layout.code(function.id),
        environment=function.environment or "",
        env_vars=dict(function.env_vars or {}),
        cpu=function.cpu,
        memory_gb=function.memory,
    )


async def function_spec(platform: Platform, *, function_id: int) -> FunctionSpec | None:
    """The spec of a Ready function (to start its instance before the first call)."""
    async with platform.db.read() as session:
        function = await functions_store.get_by_id(session, function_id=function_id)
    if function is None or function.status != "Ready":
        return None
    return _spec(platform, function)


def run_ttl(platform: Platform) -> timedelta:
    """How long a call's token may live: its whole run, with a margin."""
    return timedelta(seconds=platform.settings.calls.call_timeout_seconds + 60)


class Unstartable(Exception):
    """A call that cannot start; it ends failed with `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def call_job(
    platform: Platform, call: Row[Any], function: Row[Any], session: Row[Any] | None
) -> CallJob:
    """What runs `call`, with a token acting as its session. Unstartable says why it cannot
    run: its session is unusable, or its function's secrets cannot be opened."""
    try:
        token = sessions_service.mint_token(
            platform.secrets_box.signing_key,
            call_id=call.id,
            session=session,
            ttl=run_ttl(platform),
        )
    except sessions_service.SessionUnusable as error:
        raise Unstartable(error.message) from None
    try:
        secrets = (
            platform.secrets_box.open(function.secrets_sealed) if function.secrets_sealed else {}
        )
    except SecretsUnreadable as error:
        raise Unstartable(f"The call could not start: {error}") from None
    settings = platform.settings
    return CallJob(
        call_id=call.id,
        project=call.project,
        function=_spec(platform, function),
        secrets=secrets,
        data=call.data,
        call_info=_call_info(call),
        timeout_seconds=settings.calls.call_timeout_seconds,
        base_url=settings.public_url,
        token=token,
    )


async def end_calls_of_failed_deploys(platform: Platform) -> None:
    """A safety net: end queued calls of functions whose deploy failed.

    A failing deploy ends its waiting calls itself, and calls made after it end at once; only
    a call created by another process at the very moment of the failure can slip through.
    """
    async with platform.db.write() as session:
        for call, function in await calls_store.queued_of_failed_functions(session):
            await calls_store.end_queued(
                session,
                function_ids=[call.function_id],
                **failed_deploy(function.error_message, function.error_trace, at=clock.now()),
            )


async def claim(platform: Platform, *, limit: int, claimant: str) -> list[CallJob]:
    """Claim up to `limit` runnable calls; calls that cannot start end here, failed."""

    def unit(connection: Connection) -> list[CallJob]:
        jobs: list[CallJob] = []
        for call, function, owner in calls_store.claim_queued(
            connection, limit=limit, claimant=claimant
        ):
            try:
                jobs.append(call_job(platform, call, function, owner))
            except Unstartable as error:
                calls_store.finish(
                    connection,
                    call_id=call.id,
                    state="failed",
                    end_time=clock.to_ms(clock.now()),
                    error_message=error.message,
                    error_trace="",
                )
        return jobs

    return await platform.db.run_write(unit)


async def append_logs(platform: Platform, *, call_id: int, lines: list[tuple[int, str]]) -> None:
    await platform.db.run_write(partial(calls_store.append_logs, call_id=call_id, lines=lines))


async def finish(platform: Platform, *, call_id: int, outcome: Outcome) -> None:
    """Record a running call's outcome and signal the requests waiting for it."""
    end = CallEnd(
        state=outcome.state,
        end_time=clock.to_ms(clock.now()),
        error_message=outcome.error_message,
        error_trace=outcome.error_trace,
    )
    recorded = await platform.db.run_write(
        partial(
            calls_store.finish,
            call_id=call_id,
            state=end.state,
            end_time=end.end_time,
            response=outcome.response,
            error_message=end.error_message,
            error_trace=end.error_trace,
        )
    )
    if recorded:
        platform.call_events.ended(call_id, end)
    logger.info(
        "call finished",
        extra={"action": "call_finished", "call_id": call_id, "state": outcome.state},
    )


def _alive(row: Dispatcher, *, now_ms: int, host: str) -> bool:
    """A dispatcher is alive while it beats; on this host, also only while its process lives."""
    if now_ms - row.heartbeat_time > STALE_AFTER_SECONDS * 1000:
        return False
    if row.host == host:
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


async def register(platform: Platform, *, claimant: str) -> None:
    async with platform.db.write() as session:
        await dispatchers_store.register(
            session,
            dispatcher_id=claimant,
            host=socket.gethostname(),
            pid=os.getpid(),
            now=clock.to_ms(clock.now()),
        )


async def heartbeat(platform: Platform, *, claimant: str) -> None:
    async with platform.db.write() as session:
        await dispatchers_store.beat(session, dispatcher_id=claimant, now=clock.to_ms(clock.now()))


async def recover(platform: Platform, *, leaving: str | None = None) -> list[int]:
    """End calls whose dispatcher is gone (or `leaving` now): user code runs at most once."""
    now = clock.to_ms(clock.now())
    host = socket.gethostname()
    async with platform.db.write() as session:
        rows = await dispatchers_store.all_(session)
        dead = [r.id for r in rows if r.id == leaving or not _alive(r, now_ms=now, host=host)]
        registered = {r.id for r in rows}
        # Claimants with no registry row at all belong to dispatchers long gone.
        dead += [c for c in await calls_store.running_claimants(session) if c not in registered]
        ids = await calls_store.finish_running_of(
            session,
            claimants=dead,
            state="failed",
            end_time=now,
            error_message="The server stopped while this call was running; it was not re-run",
            error_trace="",
        )
        await dispatchers_store.remove(session, ids=dead)
    if ids:
        logger.warning(
            "ended calls interrupted by a stop",
            extra={"action": "calls_recovered", "call_ids": ids},
        )
    return ids
