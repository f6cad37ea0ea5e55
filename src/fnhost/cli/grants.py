"""Options shared by commands that grant access: projects and capabilities."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from fnhost import errors
from fnhost.auth import capabilities
from fnhost.cli.platform import load_settings, open_platform
from fnhost.services.platform import Platform

T = TypeVar("T")

ProjectOption = Annotated[
    list[str] | None, typer.Option("--project", help="Project to grant (repeatable)")
]
AllProjectsOption = Annotated[
    bool, typer.Option("--all-projects", help="Grant every project, present and future")
]
CapabilityOption = Annotated[
    list[str],
    typer.Option(
        "--capability", help=f"Capability to grant (repeatable): {', '.join(capabilities.KNOWN)}"
    ),
]
DescriptionOption = Annotated[
    str | None, typer.Option("--description", help="What this credential is for")
]


def projects_of(projects: list[str] | None, all_projects: bool) -> list[str] | None:
    """The granted projects (None: all); exactly one of the two options must be given."""
    if all_projects == bool(projects):
        raise typer.BadParameter("give --project (one or more) or --all-projects")
    return None if all_projects else projects


def checked(granted: list[str]) -> list[str]:
    try:
        return [capabilities.parse(c) for c in granted]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--capability") from error


async def with_platform(data_dir: Path | None, use: Callable[[Platform], Awaitable[T]]) -> T:
    """Run `use` on the platform of `data_dir`; domain errors end the command with exit code 1."""
    settings = load_settings(data_dir)
    async with open_platform(settings) as platform:
        try:
            return await use(platform)
        except errors.FnhostError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(1) from error


def grant_columns(projects: list[str] | None, granted: list[str]) -> str:
    """Projects (`*`: all) and capabilities, as tab-separated columns of a listing."""
    return f"{'*' if projects is None else ','.join(projects)}\t{','.join(granted)}"


def when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "never"
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
