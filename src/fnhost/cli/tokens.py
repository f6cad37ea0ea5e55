"""`fnhost token issue|list|revoke`: bearer tokens issued by fnhost."""

import asyncio
import re
from datetime import timedelta
from typing import Annotated

import typer

from fnhost.cli.grants import (
    AllProjectsOption,
    CapabilityOption,
    DescriptionOption,
    ProjectOption,
    checked,
    grant_columns,
    projects_of,
    when,
    with_platform,
)
from fnhost.cli.platform import DataDirOption
from fnhost.services import tokens as tokens_service

app = typer.Typer(help="Issue, list and revoke bearer tokens.", no_args_is_help=True)

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `12h`, `30d` or `2w` as a timedelta."""
    match = DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration like 90s, 15m, 12h, 30d or 2w", param_hint="--expires-in"
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})


@app.command()
def issue(
    capability: CapabilityOption,
    project: ProjectOption = None,
    all_projects: AllProjectsOption = False,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime, e.g. 12h, 30d [default: never]")
    ] = None,
    subject: Annotated[
        str, typer.Option("--subject", help="Who the token stands for (token/inspect)")
    ] = "fnhost-token",
    description: DescriptionOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a token; it is printed once, as the last line, and only its hash is kept."""
    projects = projects_of(project, all_projects)
    granted = checked(capability)
    lifetime = parse_duration(expires_in) if expires_in else None
    token = asyncio.run(
        with_platform(
            data_dir,
            lambda platform: tokens_service.issue(
                platform,
                subject=subject,
                projects=projects,
                capabilities_=granted,
                expires_in=lifetime,
                description=description,
            ),
        )
    )
    scope = "all projects" if projects is None else ", ".join(projects)
    typer.echo(f"Issued a token for {scope} with {', '.join(sorted(set(granted)))}.")
    typer.echo("It is shown only now; store it safely:")
    typer.echo(token)


@app.command("list")
def list_tokens(data_dir: DataDirOption = None) -> None:
    """List issued tokens (their grants, never the tokens)."""
    issued = asyncio.run(with_platform(data_dir, tokens_service.list_issued))
    for token in issued:
        state = "revoked" if token.revoked else f"expires {when(token.expires_time)}"
        typer.echo(
            f"{token.id}\t{token.subject}\t{grant_columns(token.projects, token.capabilities)}\t"
            f"created {when(token.created_time)}\t{state}\t{token.description or ''}"
        )


@app.command()
def revoke(
    token_id: Annotated[int, typer.Argument(help="Id shown by `fnhost token list`")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an issued token; it stops working at once."""
    asyncio.run(
        with_platform(
            data_dir, lambda platform: tokens_service.revoke_issued(platform, token_id=token_id)
        )
    )
    typer.echo(f"Revoked token {token_id}.")
