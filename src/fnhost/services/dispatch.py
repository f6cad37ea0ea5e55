"""Calls as the dispatcher sees them: claim queued ones, record where each is handed, record logs,
recover the calls of dispatchers that are gone (or, where instances outlive dispatchers, take
them over)."""

import asyncio
import dataclasses
import logging
import os
import socket
from functools import partial
from typing import Any

from fnhost import clock, timings
from fnhost.auth.secrets_box import SecretsUnreadable
from fnhost.lifecycle import CallEnd, FunctionStatus
from fnhost.services import endings, identity
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import dispatchers as dispatchers_store
from fnhost.store import functions as functions_store
from fnhost.store.calls import CallRecord
from fnhost.store.dispatchers import DispatcherRecord
from fnhost.store.engine import Tx
from fnhost.store.functions import FunctionRecord
from fnhost.store.sessions import SessionRecord

logger = logging.getLogger(__name__)


class Superseded(Exception):
    """The call is no longer this dispatcher's: another one took over (this one lost its lock)."""


class Unstartable(Exception):
    """A call that cannot start; it ends failed with `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _call_info(call: CallRecord) -> dict[str, Any]:
    info: dict[str, Any] = {"function_id": call.function_id, "call_id": call.id}
    if call.schedule_id is not None:
        info["schedule_id"] = call.schedule_id
        info["scheduled_time"] = call.scheduled_time
    return info


def spec_of(platform: Platform, function: FunctionRecord) -> FunctionSpec:
    return FunctionSpec(
        function_id=function.id,
        code_digest=function.code_digest,
        function_path=function.function_path,
        runtime=function.runtime,
        index_url=function.index_url,
        extra_index_urls=tuple(function.extra_index_urls or ()),
        code_dir=platform.settings.layout.code(function.id),
        environment=function.environment or "",
        env_vars=dict(function.env_vars or {}),
        cpu=function.cpu,
        memory_gb=function.memory,
    )


async def function_spec(platform: Platform, *, function_id: int) -> FunctionSpec | None:
    """The spec of a Ready function (to start its instance before the first call)."""
    function = await platform.db.run_read(
        partial(functions_store.get_by_id, function_id=function_id)
    )
    if function is None or function.status != FunctionStatus.READY:
        return None
    return spec_of(platform, function)


def call_job(
    platform: Platform,
    call: CallRecord,
    function: FunctionRecord,
    session: SessionRecord | None,
) -> CallJob:
    """What runs `call`, with a token acting as its session. Unstartable says why it cannot
    run: its session is unusable, or its function's secrets cannot be opened."""
    try:
        token = identity.call_token(platform, call_id=call.id, session=session)
    except identity.SessionUnusable as error:
        raise Unstartable(error.message) from None
    try:
        sealed = function.secrets_sealed
        secrets = platform.secrets_box.open(sealed) if sealed else {}
    except SecretsUnreadable as error:
        raise Unstartable(f"The call could not start: {error}") from None
    return CallJob(
        call_id=call.id,
        project=call.project,
        accepted_time=call.start_time,
        function=spec_of(platform, function),
        secrets=secrets,
        data=call.data,
        call_info=_call_info(call),
        timeout_seconds=platform.settings.calls.call_timeout_seconds,
        base_url=platform.settings.public_url,
        token=token,
    )


async def with_upstream_token(
    platform: Platform, job: CallJob, session: SessionRecord | None
) -> CallJob:
    """`job` acting with its session's identity provider token instead of fnhost's call token,
    when it acts upstream (identity.acts_upstream); Unstartable when it can get none."""
    if session is None or not _acts_upstream(platform, job, session):
        return job
    try:
        token = await identity.upstream_call_token(platform, session=session)
    except identity.SessionUnusable as error:
        raise Unstartable(error.message) from None
    return dataclasses.replace(job, token=token)


async def claim(platform: Platform, *, limit: int, claimant: str) -> list[CallJob]:
    """Claim up to `limit` runnable calls; calls that cannot start end here, failed."""

    def unit(tx: Tx) -> tuple[list[tuple[CallJob, SessionRecord | None]], list[endings.Ended]]:
        jobs: list[tuple[CallJob, SessionRecord | None]] = []
        unstartable: list[endings.Ended] = []
        for claimed in calls_store.claim_queued(tx, limit=limit, claimant=claimant):
            try:
                job = call_job(platform, claimed.call, claimed.function, claimed.session)
            except Unstartable as error:
                failed = CallEnd.failed(error.message, at=clock.now_ms())
                unstartable.append(
                    endings.end_in(tx, platform.notifier, call_ids=[claimed.call.id], end=failed)
                )
            else:
                jobs.append((job, claimed.session))
        return jobs, unstartable

    claimed, unstartable = await platform.db.run_write(unit)
    endings.announce(platform, *unstartable)
    jobs = [job for job, session in claimed if not _acts_upstream(platform, job, session)]
    upstream = [
        (job, session) for job, session in claimed if _acts_upstream(platform, job, session)
    ]
    if upstream:
        # Fetched outside the transaction (a unit must not wait on the network), at once for
        # the calls of different clients.
        fetched = await asyncio.gather(*(_upstream_job(platform, *pair) for pair in upstream))
        jobs += [job for job in fetched if job is not None]
    return jobs


def _acts_upstream(platform: Platform, job: CallJob, session: SessionRecord | None) -> bool:
    return identity.acts_upstream(platform, project=job.project, session=session)


async def _upstream_job(
    platform: Platform, job: CallJob, session: SessionRecord | None
) -> CallJob | None:
    """`with_upstream_token`, or None once a call that cannot get its token has ended failed."""
    try:
        return await with_upstream_token(platform, job, session)
    except Unstartable as error:
        failed = CallEnd.failed(error.message, at=clock.now_ms())
        await endings.end(platform, call_ids=[job.call_id], end=failed)
        return None


async def end_calls_of_failed_deploys(platform: Platform) -> None:
    """A safety net: end queued calls of functions whose deploy failed.

    A failing deploy ends its waiting calls itself, and calls made after it end at once; only
    a call created by another process at the very moment of the failure can slip through.
    """

    def unit(tx: Tx) -> list[endings.Ended]:
        now = clock.now_ms()
        return [
            endings.end_in(
                tx,
                platform.notifier,
                call_ids=call_ids,
                end=endings.deploy_failed(function, at=now),
            )
            for function, call_ids in calls_store.queued_of_failed_functions(tx)
        ]

    endings.announce(platform, *await platform.db.run_write(unit))


async def append_logs(platform: Platform, *, call_id: int, lines: list[tuple[int, str]]) -> None:
    await platform.db.run_write(partial(calls_store.append_logs, call_id=call_id, lines=lines))


def _alive(dispatcher: DispatcherRecord, *, now_ms: int, host: str) -> bool:
    """A dispatcher is alive while it beats; on this host, also only while its process lives."""
    if now_ms - dispatcher.heartbeat_time > timings.DISPATCHER_STALE_AFTER_SECONDS * 1000:
        return False
    if dispatcher.host == host:
        try:
            os.kill(dispatcher.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


async def register(platform: Platform, *, claimant: str) -> None:
    await platform.db.run_write(
        partial(
            dispatchers_store.register,
            dispatcher_id=claimant,
            host=socket.gethostname(),
            pid=os.getpid(),
            now=clock.now_ms(),
        )
    )


async def heartbeat(platform: Platform, *, claimant: str) -> None:
    await platform.db.run_write(
        partial(dispatchers_store.beat, dispatcher_id=claimant, now=clock.now_ms())
    )


async def recover(platform: Platform, *, leaving: str | None = None) -> list[int]:
    """End calls whose dispatcher is gone (or `leaving` now): user code runs at most once."""
    now = clock.now_ms()
    host = socket.gethostname()

    def unit(tx: Tx) -> endings.Ended:
        registry = dispatchers_store.all_(tx)
        dead = [d.id for d in registry if d.id == leaving or not _alive(d, now_ms=now, host=host)]
        registered = {d.id for d in registry}
        # Claimants with no registry row at all belong to dispatchers long gone.
        dead += [c for c in calls_store.running_claimants(tx) if c not in registered]
        interrupted = calls_store.running_of(tx, claimants=dead)
        dispatchers_store.remove(tx, ids=dead)
        return endings.end_in(
            tx,
            platform.notifier,
            call_ids=interrupted,
            end=CallEnd.failed(endings.INTERRUPTED, at=now),
        )

    ended = await platform.db.run_write(unit)
    endings.announce(platform, ended)
    if ended.call_ids:
        logger.warning(
            "ended calls interrupted by a stop",
            extra={"action": "calls_recovered", "call_ids": ended.call_ids},
        )
    return ended.call_ids


async def hand_over(
    platform: Platform, *, claimant: str, call_id: int, instance: str, node: str
) -> None:
    """Record where a call is about to be handed (its instance, on its node), so that a
    dispatcher taking over knows whom to ask; Superseded when it is no longer `claimant`'s."""
    unit = partial(
        calls_store.hand_over, call_id=call_id, claimant=claimant, instance=instance, node=node
    )
    # One statement, setting the same values if run again.
    if not await platform.db.run_statement(unit):
        raise Superseded(call_id)
    logger.debug(
        "call %d handed to instance %s on node %s",
        call_id,
        instance,
        node,
        extra={"action": "call_handed", "call_id": call_id, "node": node},
    )


async def take_over(platform: Platform, *, claimant: str) -> list[CallRecord]:
    """Make the running calls of earlier dispatchers `claimant`'s own (there is one active
    dispatcher: whatever runs is its to follow); returns them."""
    return await platform.db.run_write(partial(calls_store.take_over, claimant=claimant))


async def requeue(platform: Platform, *, call_ids: list[int]) -> None:
    """Queue again calls that were claimed but provably never started: they run, once."""
    requeued = await platform.db.run_write(partial(calls_store.requeue, call_ids=call_ids))
    if requeued:
        logger.info(
            "calls claimed by an earlier dispatcher never started: queued again",
            extra={"action": "calls_requeued", "call_ids": requeued},
        )
