"""A function's deployment as the builder sees it: Queued -> Deploying -> Ready | Failed."""

import logging
from functools import partial

from fnhost import clock
from fnhost.lifecycle import FunctionStatus
from fnhost.services import endings
from fnhost.services.dispatch import spec_of
from fnhost.services.jobs import FunctionSpec
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store
from fnhost.store.engine import Tx

logger = logging.getLogger(__name__)


async def pending(platform: Platform) -> list[int]:
    """Functions waiting for a build."""
    statuses = [FunctionStatus.QUEUED]
    return await platform.db.run_read(partial(functions_store.ids_in_status, statuses=statuses))


async def existing_ids(platform: Platform) -> set[int]:
    statuses = list(FunctionStatus)
    found = await platform.db.run_read(partial(functions_store.ids_in_status, statuses=statuses))
    return set(found)


async def environments_in_use(platform: Platform) -> set[str]:
    """The interpreter paths of the environments functions are deployed with."""
    return set(await platform.db.run_read(functions_store.environments_in_use))


async def requeue_interrupted(platform: Platform) -> None:
    """Builds cut short by a stop start again from the beginning."""

    def unit(tx: Tx) -> None:
        deploying = [FunctionStatus.DEPLOYING]
        for function_id in functions_store.ids_in_status(tx, statuses=deploying):
            functions_store.transition(
                tx,
                function_id=function_id,
                from_status=FunctionStatus.DEPLOYING,
                status=FunctionStatus.QUEUED,
            )

    await platform.db.run_write(unit)


async def start(platform: Platform, *, function_id: int) -> FunctionSpec | None:
    """Move a Queued function to Deploying, and what building it needs; None when another
    builder took it (or it is gone)."""
    function = await platform.db.run_write(
        partial(
            functions_store.transition,
            function_id=function_id,
            from_status=FunctionStatus.QUEUED,
            status=FunctionStatus.DEPLOYING,
        )
    )
    if function is None:
        return None
    return spec_of(platform, function)


async def succeed(
    platform: Platform, *, function_id: int, environment: str, runtime_version: str
) -> None:
    def unit(tx: Tx) -> None:
        function = functions_store.transition(
            tx,
            function_id=function_id,
            from_status=FunctionStatus.DEPLOYING,
            status=FunctionStatus.READY,
            environment=environment,
            runtime_version=runtime_version,
        )
        if function is not None:
            platform.notifier.tell_others(tx, Change.FUNCTION_READY, [function_id])

    await platform.db.run_write(unit)
    platform.notifier.function_ready(function_id)


async def fail(platform: Platform, *, function_id: int, message: str, trace: str) -> None:
    """The deploy failed: so do the calls that were waiting for it, with its reason."""

    def unit(tx: Tx) -> endings.Ended | None:
        function = functions_store.transition(
            tx,
            function_id=function_id,
            from_status=FunctionStatus.DEPLOYING,
            status=FunctionStatus.FAILED,
            error_message=message,
            error_trace=trace,
        )
        if function is None:
            return None
        waiting = calls_store.queued_of_functions(tx, function_ids=[function_id])
        failed = endings.deploy_failed(function, at=clock.now_ms())
        return endings.end_in(tx, platform.notifier, call_ids=waiting, end=failed)

    ended = await platform.db.run_write(unit)
    if ended is not None:
        endings.announce(platform, ended)
    logger.info(
        "deploy failed",
        extra={"action": "deploy_failed", "function_id": function_id, "reason": message},
    )
