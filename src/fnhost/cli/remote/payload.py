"""Call data given on the command line: inline JSON, `@file.json`, or `@-` for stdin."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="The call's data: JSON, @FILE.json to read it from a file, or @- from stdin.",
        show_default=False,
    ),
]


def parse(text: str | None, *, default: Any) -> Any:
    """The JSON value `--data` gives (`default` when absent); a usage error if it is not JSON."""
    if text is None:
        return default
    source = "the value"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as error:
            raise typer.BadParameter(
                f"cannot read {source}: {error.strerror}", param_hint="--data"
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(
            f"{source} is not valid JSON: {error}", param_hint="--data"
        ) from None
