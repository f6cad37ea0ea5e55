"""Functions: deploy (snapshot the code, queue the build), list, retrieve, delete."""

import math
from functools import partial

from fnhost import clock, errors
from fnhost.lifecycle import FunctionStatus
from fnhost.schemas.common import Identifier
from fnhost.schemas.functions import (
    ActivationStatus,
    FunctionCreate,
    FunctionFilter,
    FunctionRead,
    Limits,
    Range,
)
from fnhost.services import cursors, identifiers, projects, schedules
from fnhost.services.notifier import Change
from fnhost.services.platform import Platform
from fnhost.store import files as files_store
from fnhost.store import functions as functions_store
from fnhost.store.engine import Tx
from fnhost.store.functions import FunctionQuery, FunctionRecord

MASK = "***"


def to_read(function: FunctionRecord) -> FunctionRead:
    secrets = dict.fromkeys(function.secret_names, MASK) if function.secret_names else None
    error = None
    if function.error_message is not None:
        error = {"message": function.error_message, "trace": function.error_trace}
    return FunctionRead.model_validate(
        {
            "id": function.id,
            "name": function.name,
            "external_id": function.external_id,
            "description": function.description,
            "owner": function.owner,
            "status": function.status,
            "file_id": function.file_id,
            "function_path": function.function_path,
            "created_time": function.created_time,
            "secrets": secrets,
            "env_vars": function.env_vars,
            "cpu": function.cpu,
            "memory": function.memory,
            "runtime": function.runtime,
            "runtime_version": function.runtime_version,
            "metadata": function.metadata,
            "error": error,
            "last_called": function.last_called,
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
    sealed = platform.secrets_box.seal(body.secrets) if body.secrets else None

    def unit(tx: Tx) -> FunctionRecord:
        file = files_store.get(tx, project=project, file_id=body.file_id)
        if file is None:
            raise errors.InvalidInput(f"fileId {body.file_id} does not exist in this project")
        if not file.uploaded or file.blob_digest is None:
            raise errors.InvalidInput(
                f"fileId {body.file_id} has no content: upload the code zip to its uploadUrl"
            )
        if body.external_id is not None and functions_store.get_by_external_id(
            tx, project=project, external_id=body.external_id
        ):
            raise errors.Conflict(
                "A function with this externalId already exists",
                duplicated=[{"externalId": body.external_id}],
            )
        function = functions_store.insert_one(
            tx,
            project=project,
            external_id=body.external_id,
            name=body.name,
            description=body.description,
            owner=body.owner,
            file_id=file.id,
            code_digest=file.blob_digest,
            function_path=body.function_path,
            secrets_sealed=sealed,
            secret_names=sorted(body.secrets) if body.secrets else None,
            env_vars=body.env_vars or None,
            cpu=cpu,
            memory=memory,
            runtime=runtime,
            metadata=body.metadata or None,
            index_url=body.index_url,
            extra_index_urls=body.extra_index_urls or None,
            status=FunctionStatus.QUEUED,
            created_time=clock.now_ms(),
        )
        platform.notifier.tell_others(tx, Change.FUNCTION_CREATED, [function.id])
        return function

    created = await projects.write_in(platform, project, unit)
    platform.notifier.function_created()
    return to_read(created)


def _query(filter: FunctionFilter) -> FunctionQuery:
    return FunctionQuery(
        name=filter.name,
        owner=filter.owner,
        file_id=filter.file_id,
        status=filter.status,
        external_id_prefix=filter.external_id_prefix,
        created_time=filter.created_time,
    )


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
    found = await platform.db.run_read(
        partial(
            functions_store.list_where,
            project=project,
            query=_query(filter),
            after_id=cursors.decode(cursor),
        )
    )
    if filter.metadata:
        wanted = filter.metadata.items()
        found = [function for function in found if wanted <= (function.metadata or {}).items()]
    page, next_cursor = cursors.page(found, limit)
    return [to_read(function) for function in page], next_cursor


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[FunctionRead]:
    ids, external_ids = identifiers.split(items)
    found = await platform.db.run_read(
        partial(functions_store.get_many, project=project, ids=ids, external_ids=external_ids)
    )
    matched = identifiers.match(items, found, ignore_unknown=ignore_unknown, what="Functions")
    return [to_read(function) for function in matched]


async def get(platform: Platform, *, project: str, function_id: int) -> FunctionRead:
    function = await platform.db.run_read(
        partial(functions_store.get, project=project, function_id=function_id)
    )
    if function is None:
        raise errors.NotFound("Function not found", missing=[{"id": function_id}])
    return to_read(function)


async def delete(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> None:
    """Delete functions with their schedules and call history."""
    ids, external_ids = identifiers.split(items)
    grace = schedules.released_session_grace(platform.settings)

    def unit(tx: Tx) -> None:
        found = functions_store.get_many(tx, project=project, ids=ids, external_ids=external_ids)
        matched = identifiers.match(items, found, ignore_unknown=ignore_unknown, what="Functions")
        function_ids = [function.id for function in matched]
        # The schedules go by cascade; their sessions must not stay held forever.
        schedules.release_sessions_of_functions(tx, function_ids=function_ids, grace=grace)
        functions_store.delete_many(tx, project=project, ids=function_ids)
        platform.notifier.tell_others(tx, Change.FUNCTION_DELETED, function_ids)

    await platform.db.run_write(unit)
    platform.notifier.function_deleted()


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
    isolation = platform.isolation
    if isolation is None:
        return ActivationStatus(status="activated")
    return ActivationStatus(
        status="activated",
        isolation=isolation.kind,
        resources=isolation.resource_control,
        seccomp=isolation.seccomp is not None,
    )
