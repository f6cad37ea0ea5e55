"""What every client command shares: the connection options, `--json`, and how a refused
request or an unusable option ends the command (the message on stderr, exit code 1)."""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer

from fnhost.cli.remote.api import Api
from fnhost.cli.remote.connection import connect
from fnhost.cli.remote.errors import CliError
from fnhost.cli.remote.output import note

PANEL = "Connection and output"
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="FNHOST_URL",
        help="The server (default: http://FNHOST_HOST:FNHOST_PORT, so http://127.0.0.1:8000)",
        show_default=False,
        rich_help_panel=PANEL,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="FNHOST_TOKEN",
        help="Bearer token (default: FNHOST_ADMIN_TOKEN, else the admin-token file of the "
        "local data directory)",
        show_default=False,
        rich_help_panel=PANEL,
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        envvar="FNHOST_PROJECT",
        help="The project (CDF's namespace in every URL)",
        show_default=False,
        rich_help_panel=PANEL,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON on stdout", rich_help_panel=PANEL),
]


@dataclass(frozen=True)
class Remote:
    """What a client command works with: the server's API and how to print."""

    api: Api
    json: bool


def remote_command(command: Callable[..., None]) -> Callable[..., None]:
    """`command(remote, ...)` as a Typer command that also takes --url, --token, --project and
    --json, and turns a CliError into its message on stderr and exit code 1."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "remote"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in (
            ("url", UrlOption, None),
            ("token", TokenOption, None),
            ("project", ProjectOption, None),
            ("json_output", JsonOption, False),
        )
    ]

    @functools.wraps(command)
    def run(
        *,
        url: str | None,
        token: str | None,
        project: str | None,
        json_output: bool,
        **arguments: object,
    ) -> None:
        try:
            with Api(connect(url, token, project)) as api:
                command(Remote(api=api, json=json_output), **arguments)
        except CliError as error:
            note(f"Error: {error}")
            raise typer.Exit(1) from None

    run.__signature__ = inspect.Signature([*own, *shared])  # type: ignore[attr-defined]
    return run
