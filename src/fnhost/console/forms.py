"""What people type into the console's forms, read strictly: a bad value is a 400 naming the
field and the line, never a guess."""

import json
from typing import Any

from fnhost import errors


def pairs(text: str, *, what: str) -> dict[str, str] | None:
    """`KEY=VALUE` lines (blank lines skipped) as a dict; None when there are none."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise errors.InvalidInput(f"{what}, line {number}: write KEY=VALUE, one per line")
        if key.strip() in found:
            raise errors.InvalidInput(f"{what}, line {number}: {key.strip()!r} is given twice")
        found[key.strip()] = value.strip()
    return found or None


def optional_number(text: str, *, what: str) -> float | None:
    """A number, or None when left empty."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise errors.InvalidInput(f"{what} must be a number, not {text!r}") from None


def json_value(text: str, *, what: str, empty: Any = None) -> Any:
    """The JSON value typed, or `empty` when nothing was."""
    if not text.strip():
        return empty
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise errors.InvalidInput(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
