"""`fnhost`: the client commands that speak a server's HTTP API (functions, call, calls,
schedules), and the local commands that serve and manage a data directory."""

import importlib
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from fnhost.cli.remote import calls, functions, schedules

if TYPE_CHECKING:
    # The types of the group methods overridden below: Typer's own (vendored) click's.
    from typer._click import Command, Context

# The local commands import the whole server (FastAPI, SQLAlchemy, Alembic: about a second of
# imports); they are imported only when one of them runs, so the client commands start fast.
LOCAL_COMMANDS = {
    "serve": "fnhost.cli.serve:serve",
    "dispatcher": "fnhost.cli.dispatcher:dispatcher",
    "token": "fnhost.cli.tokens:app",
    "client": "fnhost.cli.clients:app",
    "project": "fnhost.cli.projects:app",
    "doctor": "fnhost.cli.doctor:doctor",
}


class Commands(TyperGroup):
    """fnhost's commands: the client ones registered as usual, the local ones on first use."""

    def list_commands(self, ctx: "Context") -> list[str]:
        return [*super().list_commands(ctx), *LOCAL_COMMANDS]

    def get_command(self, ctx: "Context", cmd_name: str) -> "Command | None":
        if cmd_name not in LOCAL_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = LOCAL_COMMANDS[cmd_name].split(":")
        target = getattr(importlib.import_module(module), attribute)
        # Built as the root would have built it, had it been registered up front.
        holder = typer.Typer()
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=cmd_name)
        else:
            holder.command(cmd_name)(target)
        return typer.main.get_group(holder).get_command(ctx, cmd_name)


app = typer.Typer(
    cls=Commands, help="fnhost: self-hosted Python functions with the CDF Functions API."
)
app.add_typer(functions.app, name="functions")
app.command("call")(calls.call)
app.add_typer(calls.app, name="calls")
app.add_typer(schedules.app, name="schedules")


@app.callback()
def main() -> None:
    """fnhost: self-hosted Python functions with the CDF Functions API."""
