"""Pieces of list filters shared by every resource."""

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from fnhost.schemas.common import TimeRange


def within(
    column: InstrumentedAttribute[int | None], window: TimeRange | None
) -> list[ColumnElement[bool]]:
    """Conditions keeping `column` inside an inclusive `{"min", "max"}` window (ms)."""
    conditions: list[ColumnElement[bool]] = []
    if window is not None and window.min is not None:
        conditions.append(column >= window.min)
    if window is not None and window.max is not None:
        conditions.append(column <= window.max)
    return conditions
