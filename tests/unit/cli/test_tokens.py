from datetime import timedelta

import pytest
import typer

from fnhost.cli.tokens import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("30d", timedelta(days=30))],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "1y", "1.5h"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration(text)
