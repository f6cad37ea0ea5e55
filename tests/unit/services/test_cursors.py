import pytest

from fnhost import errors
from fnhost.services import cursors


def test_cursor_round_trips_an_id() -> None:
    assert cursors.decode(cursors.encode(12345)) == 12345


def test_no_cursor_means_first_page() -> None:
    assert cursors.decode(None) is None
    assert cursors.decode("") is None


@pytest.mark.parametrize("bad", ["!!!", "aWQ6eA", "Zm9vOjE"])
def test_malformed_cursor_is_invalid_input(bad: str) -> None:
    with pytest.raises(errors.InvalidInput, match="Invalid cursor"):
        cursors.decode(bad)
