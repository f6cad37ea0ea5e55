"""Resolving `{"id"}`/`{"externalId"}` lists the CDF way: 400 + `missing` for unknown ones."""

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from fnhost import errors
from fnhost.schemas.common import Identifier


class HasIdentity(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def external_id(self) -> str | None: ...


Found = TypeVar("Found", bound=HasIdentity)


def split(items: Sequence[Identifier]) -> tuple[list[int], list[str]]:
    ids = [item.id for item in items if item.id is not None]
    external_ids = [item.external_id for item in items if item.external_id is not None]
    return ids, external_ids


def match(
    items: Sequence[Identifier], rows: Iterable[Found], *, ignore_unknown: bool, what: str
) -> list[Found]:
    """Rows in the order of `items`; unknown identifiers raise NotFound listing them all."""
    by_id = {row.id: row for row in rows}
    by_external_id = {row.external_id: row for row in by_id.values() if row.external_id}
    found: dict[int, Found] = {}
    missing = []
    for item in items:
        if item.id is not None:
            row = by_id.get(item.id)
        else:
            row = by_external_id.get(item.external_id or "")
        if row is None:
            missing.append(item.wire())
        else:
            found.setdefault(row.id, row)
    if missing and not ignore_unknown:
        raise errors.NotFound(f"{what} not found", missing=missing)
    return list(found.values())
