"""`fnhost client create|list|revoke`: client credentials registered with fnhost."""

import asyncio
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
from fnhost.services import clients as clients_service

app = typer.Typer(
    help="Register, list and revoke clients (client id and secret).", no_args_is_help=True
)


@app.command()
def create(
    capability: CapabilityOption,
    project: ProjectOption = None,
    all_projects: AllProjectsOption = False,
    description: DescriptionOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a client; prints its id and secret (YAML-safe, shown only now)."""
    projects = projects_of(project, all_projects)
    granted = checked(capability)
    client_id, secret = asyncio.run(
        with_platform(
            data_dir,
            lambda platform: clients_service.create(
                platform, projects=projects, capabilities_=granted, description=description
            ),
        )
    )
    typer.echo("The secret is shown only now; store it safely.", err=True)
    typer.echo(f"client_id: {client_id}")
    typer.echo(f"client_secret: {secret}")


@app.command("list")
def list_clients(data_dir: DataDirOption = None) -> None:
    """List registered clients (their grants, never the secrets)."""
    registered = asyncio.run(with_platform(data_dir, clients_service.list_clients))
    for client in registered:
        state = "revoked" if client.revoked else "active"
        typer.echo(
            f"{client.client_id}\t{grant_columns(client.projects, client.capabilities)}\t"
            f"created {when(client.created_time)}\t{state}\t{client.description or ''}"
        )


@app.command()
def revoke(
    client_id: Annotated[str, typer.Argument(help="Client id shown by `fnhost client list`")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a client and the access tokens it obtained."""
    asyncio.run(
        with_platform(
            data_dir, lambda platform: clients_service.revoke(platform, client_id=client_id)
        )
    )
    typer.echo(f"Revoked client {client_id}.")
