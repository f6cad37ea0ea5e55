"""What the store's queries are asked in: typed arguments, turned into conditions here."""

from typing import Protocol

from sqlalchemy import ColumnElement


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
