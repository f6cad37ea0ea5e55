"""Opaque pagination cursors: the last id of a page, encoded so clients don't build them."""

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol, TypeVar

from fnhost import errors


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


Found = TypeVar("Found", bound=_HasId)


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    """The id a cursor stands for; None for no cursor. A malformed cursor is a 400."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "id":
            raise ValueError(text)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.InvalidInput(
            f"Invalid cursor {cursor!r}: pass a nextCursor as returned"
        ) from None


def page(found: Sequence[Found], limit: int) -> tuple[list[Found], str | None]:
    """The first `limit` of `found` (read with a limit of `limit + 1`), and the cursor to the
    next page if there is one."""
    first = list(found[:limit])
    return first, encode(first[-1].id) if len(found) > limit else None
