"""A function's deployment as the builder sees it: Queued -> Deploying -> Ready | Failed."""

import logging
from dataclasses import dataclass

from fnhost import clock
from fnhost.services import dispatch as dispatch_service
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import functions as functions_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildJob:
    function_id: int
    code_digest: str
    function_path: str
    runtime: str
    index_url: str | None
    extra_index_urls: list[str]


async def pending(platform: Platform) -> list[int]:
    """Functions waiting for a build."""
    async with platform.db.read() as session:
        return await functions_store.ids_in_status(session, statuses=["Queued"])


async def existing_ids(platform: Platform) -> set[int]:
    async with platform.db.read() as session:
        return set(
            await functions_store.ids_in_status(
                session, statuses=["Queued", "Deploying", "Ready", "Failed"]
            )
        )


async def environments_in_use(platform: Platform) -> set[str]:
    """The interpreter paths of the environments functions are deployed with."""
    async with platform.db.read() as session:
        return set(await functions_store.environments_in_use(session))


async def requeue_interrupted(platform: Platform) -> None:
    """Builds cut short by a stop start again from the beginning."""
    async with platform.db.write() as session:
        for function_id in await functions_store.ids_in_status(session, statuses=["Deploying"]):
            await functions_store.transition(
                session, function_id=function_id, from_status="Deploying", status="Queued"
            )


async def start(platform: Platform, *, function_id: int) -> BuildJob | None:
    """Move a Queued function to Deploying; None when another builder took it (or it is gone)."""
    async with platform.db.write() as session:
        if not await functions_store.transition(
            session, function_id=function_id, from_status="Queued", status="Deploying"
        ):
            return None
        row = await functions_store.get_by_id(session, function_id=function_id)
        assert row is not None
        return BuildJob(
            function_id=row.id,
            code_digest=row.code_digest,
            function_path=row.function_path,
            runtime=row.runtime,
            index_url=row.index_url,
            extra_index_urls=list(row.extra_index_urls or []),
        )


async def succeed(
    platform: Platform, *, function_id: int, environment: str, runtime_version: str
) -> None:
    async with platform.db.write() as session:
        await functions_store.transition(
            session,
            function_id=function_id,
            from_status="Deploying",
            status="Ready",
            environment=environment,
            runtime_version=runtime_version,
        )
    platform.function_ready(function_id)
    platform.wake_dispatcher()


async def fail(platform: Platform, *, function_id: int, message: str, trace: str) -> None:
    """The deploy failed: so do the calls that were waiting for it, with its reason."""
    async with platform.db.write() as session:
        if await functions_store.transition(
            session,
            function_id=function_id,
            from_status="Deploying",
            status="Failed",
            error_message=message,
            error_trace=trace,
        ):
            await calls_store.end_queued(
                session,
                function_ids=[function_id],
                **dispatch_service.failed_deploy(message, trace, at=clock.now()),
            )
    logger.info(
        "deploy failed",
        extra={"action": "deploy_failed", "function_id": function_id, "reason": message},
    )
