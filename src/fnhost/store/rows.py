"""Typed records from result rows: nothing above the store sees a SQLAlchemy `Row`."""

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Row


class _Record(Protocol):
    def __init__(self, **fields: Any) -> None: ...


R = TypeVar("R", bound=_Record)


def record(cls: type[R], row: Row[Any], **converted: Any) -> R:
    """`row` as a `cls` (fields named after its columns), with `converted` values replacing the
    raw ones (enums from their strings)."""
    return cls(**{**row._mapping, **converted})


def records(cls: type[R], rows: Iterable[Row[Any]]) -> list[R]:
    return [cls(**row._mapping) for row in rows]
