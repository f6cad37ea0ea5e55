"""`fnhost schedules list|create|delete`."""

from typing import Annotated, Any

import typer

from fnhost import clock, cron
from fnhost.cli.remote import lookup, payload
from fnhost.cli.remote.command import Remote, remote_command
from fnhost.cli.remote.output import emit_json, fields, listing, note, when

app = typer.Typer(help="Run functions on cron schedules (UTC).", no_args_is_help=True)

NEXT_FIRES = 5


def _next_fires(expression: str, count: int) -> list[int]:
    """The next `count` ticks of the expression (epoch ms), computed as the server does; none
    when this client cannot read the expression (a server of another version)."""
    ticks: list[int] = []
    after = clock.now()
    try:
        cron.validate(expression)
        for _ in range(count):
            after = cron.next_fire(expression, after=after)
            ticks.append(clock.to_ms(after))
    except (cron.InvalidCron, StopIteration):
        pass  # an expression that never fires (30 2 *: February 30th) has no next tick
    return ticks


@app.command("list")
@remote_command
def list_schedules(
    remote: Remote,
    function: Annotated[
        str | None,
        typer.Option("--function", help="Only this function's (id, external id or name)"),
    ] = None,
) -> None:
    """List the project's schedules, with each one's next tick."""
    api = remote.api
    condition = {} if function is None else {"functionId": lookup.function(api, function)["id"]}
    listing(
        list(api.list_all("/functions/schedules/list", {"filter": condition})),
        as_json=remote.json,
        columns=["Id", "Name", "Function", "Cron", "When", "Next"],
        row=lambda s: (
            s["id"],
            s["name"],
            s.get("functionId"),
            s["cronExpression"],
            s.get("when"),
            when(next(iter(_next_fires(s["cronExpression"], 1)), None)),
        ),
    )


@app.command()
@remote_command
def create(
    remote: Remote,
    function: Annotated[
        str,
        typer.Option(
            "--function", help="The function: its id, external id or name", show_default=False
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="The schedule's name", show_default=False)],
    expression: Annotated[
        str,
        typer.Option("--cron", help='5 fields, in UTC, e.g. "*/15 * * * *"', show_default=False),
    ],
    data: payload.DataOption = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Create a schedule: calls of the function at each tick of the cron expression, with
    `--data`, as you (the token's identity)."""
    arguments = payload.parse(data, default=None)
    api = remote.api
    spec: dict[str, Any] = {
        "name": name,
        "functionId": lookup.function(api, function)["id"],
        "cronExpression": expression,
    }
    if arguments is not None:
        spec["data"] = arguments
    if description is not None:
        spec["description"] = description
    (created,) = api.post("/functions/schedules", {"items": [spec]})["items"]
    ticks = _next_fires(created["cronExpression"], NEXT_FIRES)
    if remote.json:
        emit_json({**created, "nextFireTimes": ticks})
        return
    fields(
        [
            ("Id", created["id"]),
            ("Name", created["name"]),
            ("Function", created.get("functionId")),
            ("Cron", created["cronExpression"]),
            ("When", created.get("when")),
            ("Next", "\n".join(when(tick) for tick in ticks)),
        ]
    )


@app.command()
@remote_command
def delete(
    remote: Remote,
    schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id", min=1)],
) -> None:
    """Delete a schedule: its ticks stop; its past calls stay."""
    api = remote.api
    (found,) = api.post("/functions/schedules/byids", {"items": [{"id": schedule_id}]})["items"]
    api.post("/functions/schedules/delete", {"items": [{"id": schedule_id}]})
    if remote.json:
        emit_json(found)
    else:
        note(f"Deleted schedule {found['name']!r} (id {schedule_id}).")
