"""Queries for browsing what a project holds: functions by search text, their schedule counts,
their names, the digest of a function's code."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from fnhost.lifecycle import FunctionStatus
from fnhost.store.activity import CallSummary, last_calls
from fnhost.store.engine import Tx
from fnhost.store.functions import FUNCTIONS
from fnhost.store.rows import record
from fnhost.store.schedules import SCHEDULES


@dataclass(frozen=True, slots=True)
class FunctionSummary:
    """A function as a list shows it."""

    id: int
    name: str
    external_id: str | None
    status: FunctionStatus
    runtime: str
    created_time: int


def search_functions(
    tx: Tx, *, project: str, text: str, before_id: int | None, limit: int
) -> list[FunctionSummary]:
    """Functions of the project whose name or external id contains `text` (any case), newest
    first, older than `before_id`."""
    columns = [getattr(FUNCTIONS.c, field) for field in FunctionSummary.__dataclass_fields__]
    query = select(*columns).where(FUNCTIONS.c.project == project)
    if text:
        wanted = text.lower()
        query = query.where(
            or_(
                func.lower(FUNCTIONS.c.name).contains(wanted, autoescape=True),
                func.lower(FUNCTIONS.c.external_id).contains(wanted, autoescape=True),
            )
        )
    if before_id is not None:
        query = query.where(FUNCTIONS.c.id < before_id)
    query = query.order_by(FUNCTIONS.c.id.desc()).limit(limit)
    return [
        record(FunctionSummary, row, status=FunctionStatus(row.status)) for row in tx.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class ListedFunction:
    function: FunctionSummary
    last_call: CallSummary | None
    schedules: int


def list_functions(
    tx: Tx, *, project: str, text: str, before_id: int | None, limit: int
) -> list[ListedFunction]:
    """`search_functions`, each function with its newest call and its number of schedules."""
    found = search_functions(tx, project=project, text=text, before_id=before_id, limit=limit)
    ids = [function.id for function in found]
    last = {call.function_id: call for call in last_calls(tx, function_ids=ids)}
    counts = schedule_counts(tx, function_ids=ids)
    return [
        ListedFunction(function, last.get(function.id), counts.get(function.id, 0))
        for function in found
    ]


def schedule_counts(tx: Tx, *, function_ids: Collection[int]) -> dict[int, int]:
    """How many schedules each of these functions has (those with none are left out)."""
    query = (
        select(SCHEDULES.c.function_id, func.count())
        .where(SCHEDULES.c.function_id.in_(function_ids))
        .group_by(SCHEDULES.c.function_id)
    )
    return {int(row[0]): int(row[1]) for row in tx.execute(query)}


def function_names(tx: Tx, *, project: str) -> dict[int, str]:
    """Every function of the project: id -> name."""
    query = select(FUNCTIONS.c.id, FUNCTIONS.c.name).where(FUNCTIONS.c.project == project)
    return {int(row[0]): str(row[1]) for row in tx.execute(query)}


def code_digest(tx: Tx, *, project: str, function_id: int) -> str | None:
    """The digest of the function's code zip in the blob store; None for no such function."""
    query = select(FUNCTIONS.c.code_digest).where(
        FUNCTIONS.c.project == project, FUNCTIONS.c.id == function_id
    )
    digest: str | None = tx.execute(query).scalar_one_or_none()
    return digest
