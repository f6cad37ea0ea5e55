from dataclasses import dataclass

import pytest

from fnhost import errors
from fnhost.schemas.common import Identifier
from fnhost.services import identifiers


@dataclass
class Row:
    id: int
    external_id: str | None


ROWS = [Row(1, "a"), Row(2, None)]


def test_match_keeps_request_order_and_drops_repeats() -> None:
    items = [Identifier(id=2), Identifier(external_id="a"), Identifier(id=1)]
    assert identifiers.match(items, ROWS, ignore_unknown=False, what="Things") == [
        ROWS[1],
        ROWS[0],
    ]


def test_unknown_identifiers_are_all_listed_as_missing() -> None:
    items = [Identifier(id=9), Identifier(external_id="z"), Identifier(id=1)]
    with pytest.raises(errors.NotFound) as raised:
        identifiers.match(items, ROWS, ignore_unknown=False, what="Things")
    assert raised.value.missing == [{"id": 9}, {"externalId": "z"}]


def test_ignore_unknown_returns_the_known_ones() -> None:
    items = [Identifier(id=9), Identifier(id=1)]
    assert identifiers.match(items, ROWS, ignore_unknown=True, what="Things") == [ROWS[0]]


def test_identifier_needs_exactly_one_key() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Identifier(id=1, external_id="a")
    with pytest.raises(ValueError, match="exactly one"):
        Identifier()
