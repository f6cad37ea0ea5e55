"""Functions: deploy (snapshot the code, queue the build), list, retrieve, delete."""

import math

from sqlalchemy import ColumnElement, func

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.functions import (
    ActivationStatus,
    FunctionCreate,
    FunctionFilter,
    FunctionRead,
    Limits,
    Range,
)
from fnhost.services import cursors, filters, identifiers
from fnhost.services import schedules as schedules_service
from fnhost.services.platform import Platform
from fnhost.store import files as files_store
from fnhost.store import functions as functions_store
from fnhost.store.tables import Function

MASK = "***"


def to_read(row: Function) -> FunctionRead:
    error = None
    if row.error_message is not None:
        error = {"message": row.error_message, "trace": row.error_trace}
    return FunctionRead.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "external_id": row.external_id,
            "description": row.description,
            "owner": row.owner,
            "status": row.status,
            "file_id": row.file_id,
            "function_path": row.function_path,
            "created_time": row.created_time,
            "secrets": dict.fromkeys(row.secret_names, MASK) if row.secret_names else None,
            "env_vars": row.env_vars,
            "cpu": row.cpu,
            "memory": row.memory,
            "runtime": row.runtime,
            "runtime_version": row.runtime_version,
            "metadata": row.metadata_,
            "error": error,
            "last_called": row.last_called,
        }
    )


def _check_resources(platform: Platform, body: FunctionCreate) -> tuple[float, float, str]:
    settings = platform.settings
    cpu = body.cpu if body.cpu is not None else settings.calls.function_cpu_default
    memory = body.memory if body.memory is not None else settings.calls.function_memory_default_gb
    runtime = body.runtime or settings.builds.default_runtime
    if cpu > settings.calls.function_cpu_max:
        raise errors.InvalidInput(
            f"cpu {cpu} is above this server's maximum of {settings.calls.function_cpu_max} cores"
        )
    if memory > settings.calls.function_memory_max_gb:
        raise errors.InvalidInput(
            f"memory {memory} GB is above this server's maximum of "
            f"{settings.calls.function_memory_max_gb} GB"
        )
    if runtime not in platform.runtimes:
        available = ", ".join(sorted(platform.runtimes)) or "none"
        raise errors.InvalidInput(
            f"runtime {runtime!r} is not available on this server; available: {available}"
        )
    return cpu, memory, runtime


async def create(platform: Platform, *, project: str, body: FunctionCreate) -> FunctionRead:
    """Snapshot the uploaded code and queue the function for its build."""
    cpu, memory, runtime = _check_resources(platform, body)
    async with platform.db.write() as session:
        file = await files_store.get(session, project=project, file_id=body.file_id)
        if file is None:
            raise errors.InvalidInput(f"fileId {body.file_id} does not exist in this project")
        if not file.uploaded or file.blob_digest is None:
            raise errors.InvalidInput(
                f"fileId {body.file_id} has no content: upload the code zip to its uploadUrl"
            )
        if body.external_id is not None and await functions_store.get_by_external_id(
            session, project=project, external_id=body.external_id
        ):
            raise errors.Conflict(
                "A function with this externalId already exists",
                duplicated=[{"externalId": body.external_id}],
            )
        row = await functions_store.insert(
            session,
            project=project,
            external_id=body.external_id,
            name=body.name,
            description=body.description,
            owner=body.owner,
            file_id=file.id,
            code_digest=file.blob_digest,
            function_path=body.function_path,
            secrets_sealed=platform.secrets_box.seal(body.secrets) if body.secrets else None,
            secret_names=sorted(body.secrets) if body.secrets else None,
            env_vars=body.env_vars or None,
            cpu=cpu,
            memory=memory,
            runtime=runtime,
            metadata_=body.metadata or None,
            index_url=body.index_url,
            extra_index_urls=body.extra_index_urls or None,
            status="Queued",
            created_time=clock.to_ms(clock.now()),
        )
        read = to_read(row)
    platform.wake_builder()
    return read


def _conditions(filter: FunctionFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filter.name is not None:
        conditions.append(Function.name == filter.name)
    if filter.owner is not None:
        conditions.append(Function.owner == filter.owner)
    if filter.file_id is not None:
        conditions.append(Function.file_id == filter.file_id)
    if filter.status is not None:
        conditions.append(Function.status == filter.status)
    if filter.external_id_prefix is not None:
        prefix = filter.external_id_prefix
        conditions.append(func.substr(Function.external_id, 1, len(prefix)) == prefix)
    conditions += filters.within(Function.created_time, filter.created_time)
    return conditions


async def list_functions(
    platform: Platform,
    *,
    project: str,
    filter: FunctionFilter | None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[FunctionRead], str | None]:
    """A page of functions matching `filter`, oldest first, and the cursor of the next page."""
    filter = filter or FunctionFilter()
    async with platform.db.read() as session:
        rows = await functions_store.list_where(
            session,
            project=project,
            conditions=_conditions(filter),
            after_id=cursors.decode(cursor),
            limit=None,
        )
    if filter.metadata:
        wanted = filter.metadata.items()
        rows = [row for row in rows if wanted <= (row.metadata_ or {}).items()]
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].id) if len(rows) > limit else None
    return [to_read(row) for row in page], next_cursor


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[FunctionRead]:
    ids, external_ids = identifiers.split(items)
    async with platform.db.read() as session:
        rows = await functions_store.get_many(
            session, project=project, ids=ids, external_ids=external_ids
        )
    found = identifiers.match(items, rows, ignore_unknown=ignore_unknown, what="Functions")
    return [to_read(row) for row in found]


async def get(platform: Platform, *, project: str, function_id: int) -> FunctionRead:
    async with platform.db.read() as session:
        row = await functions_store.get(session, project=project, function_id=function_id)
    if row is None:
        raise errors.NotFound("Function not found", missing=[{"id": function_id}])
    return to_read(row)


async def delete(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> None:
    """Delete functions with their schedules and call history."""
    ids, external_ids = identifiers.split(items)
    async with platform.db.write() as session:
        rows = await functions_store.get_many(
            session, project=project, ids=ids, external_ids=external_ids
        )
        found = identifiers.match(items, rows, ignore_unknown=ignore_unknown, what="Functions")
        function_ids = [r.id for r in found]
        # The schedules go by cascade; their sessions must not stay held forever.
        await schedules_service.release_sessions_of_functions(
            session, settings=platform.settings, function_ids=function_ids
        )
        await functions_store.delete_many(session, project=project, ids=function_ids)
    platform.wake_builder()


def limits(platform: Platform) -> Limits:
    settings = platform.settings
    return Limits(
        timeout_minutes=math.ceil(settings.calls.call_timeout_seconds / 60),
        cpu_cores=Range(
            min=0.1,
            max=settings.calls.function_cpu_max,
            default=settings.calls.function_cpu_default,
        ),
        memory_gb=Range(
            min=0.1,
            max=settings.calls.function_memory_max_gb,
            default=settings.calls.function_memory_default_gb,
        ),
        runtimes=sorted(platform.runtimes),
        response_size_mb=settings.calls.response_max_mb,
    )


def activation(platform: Platform) -> ActivationStatus:
    """A self-hosted server's Functions are always activated; says how code is isolated."""
    isolation = platform.isolation.kind if platform.isolation else None
    return ActivationStatus(status="activated", isolation=isolation)
