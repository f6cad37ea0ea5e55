"""Functions: their rows, and the queries on them."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, or_, select, update

from fnhost.lifecycle import FunctionStatus
from fnhost.store.engine import Tx
from fnhost.store.queries import Between, starts_with, within
from fnhost.store.rows import record
from fnhost.store.tables import Function, table_of

FUNCTIONS = table_of(Function)


@dataclass(frozen=True, slots=True)
class FunctionRecord:
    """A deployed function (one version of its code: functions are never updated in place)."""

    id: int
    project: str
    external_id: str | None
    name: str
    description: str | None
    owner: str | None
    file_id: int
    code_digest: str
    function_path: str
    secrets_sealed: str | None
    secret_names: list[str] | None
    env_vars: dict[str, str] | None
    cpu: float
    memory: float
    runtime: str
    runtime_version: str | None
    metadata: dict[str, str] | None
    index_url: str | None
    extra_index_urls: list[str] | None
    status: FunctionStatus
    error_message: str | None
    error_trace: str | None
    environment: str | None
    created_time: int
    last_called: int | None


@dataclass(frozen=True)
class FunctionQuery:
    """Which functions of a project to list (every field given must match)."""

    name: str | None = None
    owner: str | None = None
    file_id: int | None = None
    status: FunctionStatus | None = None
    external_id_prefix: str | None = None
    created_time: Between | None = None


def function_record(row: Row[Any]) -> FunctionRecord:
    return record(FunctionRecord, row, status=FunctionStatus(row.status))


# Built once: every call reads its function and stamps its last call.
_IN_PROJECT = select(FUNCTIONS).where(
    FUNCTIONS.c.project == bindparam("project"), FUNCTIONS.c.id == bindparam("function_id")
)
_TOUCH = (
    update(FUNCTIONS)
    .where(FUNCTIONS.c.id == bindparam("function_id"))
    .values(last_called=bindparam("at"))
)


def insert_one(tx: Tx, **values: Any) -> FunctionRecord:
    return function_record(tx.execute(insert(FUNCTIONS).returning(*FUNCTIONS.c), values).one())


def get(tx: Tx, *, project: str, function_id: int) -> FunctionRecord | None:
    row = tx.execute(_IN_PROJECT, {"project": project, "function_id": function_id}).one_or_none()
    return None if row is None else function_record(row)


def get_by_id(tx: Tx, *, function_id: int) -> FunctionRecord | None:
    row = tx.execute(select(FUNCTIONS).where(FUNCTIONS.c.id == function_id)).one_or_none()
    return None if row is None else function_record(row)


def get_by_external_id(tx: Tx, *, project: str, external_id: str) -> FunctionRecord | None:
    query = select(FUNCTIONS).where(
        FUNCTIONS.c.project == project, FUNCTIONS.c.external_id == external_id
    )
    row = tx.execute(query).one_or_none()
    return None if row is None else function_record(row)


def get_many(
    tx: Tx, *, project: str, ids: Sequence[int], external_ids: Sequence[str]
) -> list[FunctionRecord]:
    query = select(FUNCTIONS).where(
        FUNCTIONS.c.project == project,
        or_(FUNCTIONS.c.id.in_(ids), FUNCTIONS.c.external_id.in_(external_ids)),
    )
    return [function_record(row) for row in tx.execute(query)]


def list_where(
    tx: Tx, *, project: str, query: FunctionQuery, after_id: int | None
) -> list[FunctionRecord]:
    """Functions of `project` matching `query`, by id ascending, after `after_id`."""
    statement = select(FUNCTIONS).where(FUNCTIONS.c.project == project)
    if query.name is not None:
        statement = statement.where(FUNCTIONS.c.name == query.name)
    if query.owner is not None:
        statement = statement.where(FUNCTIONS.c.owner == query.owner)
    if query.file_id is not None:
        statement = statement.where(FUNCTIONS.c.file_id == query.file_id)
    if query.status is not None:
        statement = statement.where(FUNCTIONS.c.status == query.status)
    statement = statement.where(
        *starts_with(FUNCTIONS.c.external_id, query.external_id_prefix),
        *within(FUNCTIONS.c.created_time, query.created_time),
    )
    if after_id is not None:
        statement = statement.where(FUNCTIONS.c.id > after_id)
    return [function_record(row) for row in tx.execute(statement.order_by(FUNCTIONS.c.id))]


def delete_many(tx: Tx, *, project: str, ids: Sequence[int]) -> None:
    tx.execute(delete(FUNCTIONS).where(FUNCTIONS.c.project == project, FUNCTIONS.c.id.in_(ids)))


def ids_in_status(tx: Tx, *, statuses: Sequence[FunctionStatus]) -> list[int]:
    query = select(FUNCTIONS.c.id).where(FUNCTIONS.c.status.in_(statuses)).order_by(FUNCTIONS.c.id)
    return list(tx.execute(query).scalars())


def transition(
    tx: Tx, *, function_id: int, from_status: FunctionStatus, **values: Any
) -> FunctionRecord | None:
    """Move a function out of `from_status` (compare-and-set): the function as it is now, or
    None when it had moved on (or is gone)."""
    statement = (
        update(FUNCTIONS)
        .where(FUNCTIONS.c.id == function_id, FUNCTIONS.c.status == from_status)
        .values(**values)
        .returning(*FUNCTIONS.c)
    )
    row = tx.execute(statement).one_or_none()
    return None if row is None else function_record(row)


def touch_last_called(tx: Tx, *, function_ids: Sequence[int], at: int) -> None:
    if not function_ids:
        return
    tx.execute(_TOUCH, [{"function_id": function_id, "at": at} for function_id in function_ids])


def environments_in_use(tx: Tx) -> list[str]:
    """The interpreter paths of every function's environment."""
    query = select(FUNCTIONS.c.environment).where(FUNCTIONS.c.environment.is_not(None)).distinct()
    return [path for path in tx.execute(query).scalars() if path is not None]
