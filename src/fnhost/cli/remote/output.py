"""What the client commands print: Rich tables for people, JSON for scripts, on stdout; notes,
progress and errors on stderr."""

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fnhost import clock


def emit_json(value: Any) -> None:
    """`value` as JSON on stdout, at once (a follower's reader sees each line as it comes)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_line(text: str, *, err: bool = False) -> None:
    """One line as it is, flushed (function output must not wait in a pipe's buffer)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def note(text: str) -> None:
    """A message for the person at the terminal, on stderr."""
    typer.echo(text, err=True)


def when(ms: int | None) -> str:
    """An epoch-millisecond time in UTC (Z), to the second."""
    return "" if ms is None else clock.from_ms(ms).strftime("%Y-%m-%d %H:%M:%SZ")


def listing(
    found: list[dict[str, Any]],
    *,
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[object]],
) -> None:
    """Items of a list endpoint: as they came (JSON), or as a table of one `row` an item."""
    if as_json:
        emit_json(found)
    else:
        table(columns, [row(item) for item in found])


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Rows under column headers (cells are text: never read as Rich markup)."""
    grid = Table(*columns)
    for row in rows:
        grid.add_row(*(_cell(value) for value in row))
    Console().print(grid)


def fields(pairs: Iterable[tuple[str, object]]) -> None:
    """One object's fields, a name and a value a line; empty values are left out."""
    grid = Table(show_header=False, box=None)
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in pairs:
        if value not in (None, "", {}, []):
            grid.add_row(name, _cell(value))
    Console().print(grid)


def _cell(value: object) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, dict):
        return Text(", ".join(f"{key}={item}" for key, item in value.items()))
    return Text(str(value))
