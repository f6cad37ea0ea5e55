"""What the store's queries are asked in: typed arguments, turned into conditions here."""

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, Table, func, select


class Between(Protocol):
    """A closed range of epoch milliseconds; a missing end is open."""

    @property
    def min(self) -> int | None: ...

    @property
    def max(self) -> int | None: ...


def within(column: ColumnElement[int], between: Between | None) -> list[ColumnElement[bool]]:
    """Conditions that `column` lies in `between` (none when it is None)."""
    if between is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    if between.min is not None:
        conditions.append(column >= between.min)
    if between.max is not None:
        conditions.append(column <= between.max)
    return conditions


def starts_with(column: ColumnElement[Any], prefix: str | None) -> list[ColumnElement[bool]]:
    """Conditions that `column` starts with `prefix` (none when it is None). substr, not LIKE:
    the prefix is matched literally (no % or _ wildcards) and with case, on every database."""
    if prefix is None:
        return []
    return [func.substr(column, 1, len(prefix)) == prefix]


def holds(
    column: ColumnElement[Any], wanted: Mapping[str, str] | None, *, under: str | None = None
) -> list[ColumnElement[bool]]:
    """Conditions that the JSON object in `column` (or in its key `under`) has each key of
    `wanted` with its value."""
    return [
        (column[(under, key)] if under else column[key]).as_string() == value
        for key, value in (wanted or {}).items()
    ]


def page(
    table: Table, conditions: list[ColumnElement[bool]], *, after_id: int | None, limit: int
) -> Select[Any]:
    """The rows of `table` matching `conditions`, by id, after `after_id`, at most `limit`."""
    if after_id is not None:
        conditions = [*conditions, table.c.id > after_id]
    return select(table).where(*conditions).order_by(table.c.id).limit(limit)


def count(table: Table, conditions: list[ColumnElement[bool]]) -> Select[int]:
    """How many rows of `table` match `conditions`."""
    return select(func.count()).select_from(table).where(*conditions)
