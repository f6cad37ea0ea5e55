"""`fnhost project create|list`: the projects that exist on a server."""

import asyncio
from typing import Annotated

import typer

from fnhost.cli.grants import when, with_platform
from fnhost.cli.platform import DataDirOption
from fnhost.services import projects as projects_service

app = typer.Typer(help="Create and list projects.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The project's name, as URLs carry it")],
    data_dir: DataDirOption = None,
) -> None:
    """Make a project exist (token/inspect lists it to the admin); creating it again is fine."""
    asyncio.run(
        with_platform(data_dir, lambda platform: projects_service.create(platform, name=name))
    )
    typer.echo(f"Project {name} exists.")


@app.command("list")
def list_projects(data_dir: DataDirOption = None) -> None:
    """List the projects: named by a grant, a resource created in them, or `project create`."""
    for project in asyncio.run(with_platform(data_dir, projects_service.list_projects)):
        typer.echo(f"{project.name}\tcreated {when(project.created_time)}")
