"""`fnhost call` and `fnhost calls list|logs`."""

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from fnhost.cli.remote import lookup, payload
from fnhost.cli.remote.api import Api, ApiError
from fnhost.cli.remote.command import Remote, remote_command
from fnhost.cli.remote.follow import LogEntry, follow
from fnhost.cli.remote.functions import FunctionArgument
from fnhost.cli.remote.output import emit_json, emit_line, listing, note, when

app = typer.Typer(help="List a function's calls and read their logs.", no_args_is_help=True)


class Status(StrEnum):
    running = "Running"
    completed = "Completed"
    failed = "Failed"
    timeout = "Timeout"


def _print_logs(lines: list[LogEntry], *, err: bool) -> None:
    for line in lines:
        emit_line(line["message"], err=err)


def _report_failure(call: dict[str, Any]) -> None:
    error = call.get("error") or {}
    note(f"Call {call['id']} ended {call['status']}: {error.get('message', 'no message')}")
    if error.get("trace"):
        note(error["trace"].rstrip("\n"))


@remote_command
def call(
    remote: Remote,
    function: FunctionArgument,
    data: payload.DataOption = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Print the call (id, status) and return at once")
    ] = False,
) -> None:
    """Call a function and wait for it: its response (JSON) on stdout, its logs on stderr.

    Exits 1 when the call ends Failed or Timeout, with the error and its trace on stderr."""
    arguments = payload.parse(data, default={})
    api = remote.api
    function_id = lookup.function(api, function)["id"]
    (session,) = api.post("/sessions", {"items": [{"tokenExchange": True}]})["items"]
    started = api.post(
        f"/functions/{function_id}/call", {"data": arguments, "nonce": session["nonce"]}
    )
    if no_wait:
        if remote.json:
            emit_json(started)
        else:
            emit_line(f"Call {started['id']} of function {function_id}: {started['status']}")
        return
    ended = follow(
        api,
        function_id=function_id,
        call_id=started["id"],
        on_lines=lambda lines: _print_logs(lines, err=True),
    )
    if ended["status"] != "Completed":
        if remote.json:
            emit_json(ended)
        _report_failure(ended)
        raise typer.Exit(1)
    response = api.get(f"/functions/{function_id}/calls/{ended['id']}/response")["response"]
    if remote.json:
        emit_json({**ended, "response": response})
    else:
        emit_line(json.dumps(response, indent=2, ensure_ascii=False))


@app.command("list")
@remote_command
def list_calls(
    remote: Remote,
    function: FunctionArgument,
    status: Annotated[
        Status | None, typer.Option("--status", case_sensitive=False, help="Only these")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most")] = 25,
) -> None:
    """List a function's calls, newest first."""
    api = remote.api
    function_id = lookup.function(api, function)["id"]
    body: dict[str, Any] = {"limit": limit}
    if status is not None:
        body["filter"] = {"status": status.value}
    found = api.post(f"/functions/{function_id}/calls/list", body)["items"]
    nodes = _nodes(api, function_id, [c["id"] for c in found])
    # The node a call ran on (calls on a Ray cluster): fnhost's own, from its own endpoint.
    found = [{**c, "node": nodes[c["id"]]} if nodes.get(c["id"]) else c for c in found]
    columns = ["Id", "Status", "Started", "Ended", "Seconds", "Schedule", "Error"]
    listing(
        found,
        as_json=remote.json,
        columns=[*columns, "Node"] if any(nodes.values()) else columns,
        row=lambda c: (
            c["id"],
            c["status"],
            when(c["startTime"]),
            when(c.get("endTime")),
            f"{(c['endTime'] - c['startTime']) / 1000:.3f}" if c.get("endTime") else "",
            c.get("scheduleId"),
            (c.get("error") or {}).get("message"),
            *([c.get("node")] if any(nodes.values()) else []),
        ),
    )


def _nodes(api: Api, function_id: int, call_ids: list[int]) -> dict[int, str | None]:
    """The node each call ran on; none known from a server without that endpoint."""
    if not call_ids:
        return {}
    body = {"items": [{"id": i} for i in call_ids], "ignoreUnknownIds": True}
    try:
        found = api.post(f"/functions/{function_id}/calls/nodes", body)["items"]
    except ApiError as error:
        if error.status in (404, 405):  # an fnhost from before calls ran on Ray clusters
            return {}
        raise
    return {item["id"]: item["node"] for item in found}


@app.command()
@remote_command
def logs(
    remote: Remote,
    function: FunctionArgument,
    call_id: Annotated[int, typer.Argument(metavar="CALL", help="The call's id", min=1)],
    follow_: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Print new lines as they come, until the call ends"),
    ] = False,
) -> None:
    """Print a call's log lines (its stdout and stderr); --json prints objects with the
    timestamp and message (with --follow, one a line)."""
    api = remote.api
    function_id = lookup.function(api, function)["id"]
    if not follow_:
        entries = api.get(f"/functions/{function_id}/calls/{call_id}/logs")["items"]
        if remote.json:
            emit_json(entries)
        else:
            _print_logs(entries, err=False)
        return

    def show(lines: list[LogEntry]) -> None:
        if remote.json:
            for line in lines:
                emit_line(json.dumps(line, ensure_ascii=False))
        else:
            _print_logs(lines, err=False)

    ended = follow(api, function_id=function_id, call_id=call_id, on_lines=show)
    note(f"Call {call_id} ended {ended['status']}.")
