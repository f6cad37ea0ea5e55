"""Opaque pagination cursors: the last id of a page, encoded so clients don't build them."""

import base64
import binascii

from fnhost import errors


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
