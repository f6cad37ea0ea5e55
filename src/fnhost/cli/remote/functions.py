"""`fnhost functions list|show|deploy|delete`."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from fnhost.cli.remote import code, lookup, polling
from fnhost.cli.remote.api import Api
from fnhost.cli.remote.command import Remote, remote_command
from fnhost.cli.remote.output import emit_json, emit_line, fields, listing, note, when

app = typer.Typer(help="Deploy, list, show and delete functions.", no_args_is_help=True)

FunctionArgument = Annotated[
    str,
    typer.Argument(
        metavar="FUNCTION", help="The function: its id, external id or name", show_default=False
    ),
]
BUILT = ("Ready", "Failed")


@app.command("list")
@remote_command
def list_functions(remote: Remote) -> None:
    """List the project's functions."""
    listing(
        list(remote.api.list_all("/functions/list", {"filter": {}})),
        as_json=remote.json,
        columns=["Id", "External id", "Name", "Status", "Runtime", "Created", "Last called"],
        row=lambda f: (
            f["id"],
            f.get("externalId"),
            f["name"],
            f["status"],
            f.get("runtime"),
            when(f["createdTime"]),
            when(f.get("lastCalled")),
        ),
    )


@app.command()
@remote_command
def show(remote: Remote, function: FunctionArgument) -> None:
    """Show one function, with the reason and build output when its deploy failed."""
    found = lookup.function(remote.api, function)
    if remote.json:
        emit_json(found)
        return
    error = found.get("error") or {}
    fields(
        [
            ("Id", found["id"]),
            ("External id", found.get("externalId")),
            ("Name", found["name"]),
            ("Status", found["status"]),
            ("Description", found.get("description")),
            ("Function path", found.get("functionPath")),
            ("Runtime", found.get("runtimeVersion") or found.get("runtime")),
            ("CPU", found.get("cpu")),
            ("Memory (GB)", found.get("memory")),
            ("Environment", found.get("envVars")),
            ("Secrets", ", ".join(found.get("secrets") or {})),
            ("Metadata", found.get("metadata")),
            ("Created", when(found["createdTime"])),
            ("Last called", when(found.get("lastCalled"))),
            ("Error", error.get("message")),
        ]
    )
    if error.get("trace"):
        emit_line(f"Build output:\n{error['trace'].rstrip()}")


@app.command()
@remote_command
def delete(remote: Remote, function: FunctionArgument) -> None:
    """Delete a function, with its schedules and calls."""
    found = lookup.function(remote.api, function)
    remote.api.post("/functions/delete", {"items": [{"id": found["id"]}]})
    if remote.json:
        emit_json(found)
    else:
        note(f"Deleted function {found['name']!r} (id {found['id']}).")


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, equals, item = value.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        pairs[key] = item
    return pairs


@app.command()
@remote_command
def deploy(
    remote: Remote,
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER",
            help="The function's folder: its handler file, and requirements.txt if any",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="The function's name", show_default=False)],
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="An external id of your choosing")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="An environment variable, KEY=VALUE")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", help="A secret, KEY=VALUE (keys: a-z, 0-9 and -)"),
    ] = None,
    cpu: Annotated[float | None, typer.Option("--cpu", help="CPU cores of a call")] = None,
    memory: Annotated[float | None, typer.Option("--memory", help="Memory of a call, GB")] = None,
    runtime: Annotated[
        str | None, typer.Option("--runtime", help="py310 ... py314 (default: the server's)")
    ] = None,
    function_path: Annotated[
        str, typer.Option("--function-path", help="The file defining handle, in FOLDER")
    ] = "handler.py",
) -> None:
    """Zip and upload a folder, create a function from it, and follow its build to Ready."""
    if not (folder / function_path).is_file():
        raise typer.BadParameter(
            f"{folder / function_path} does not exist: FOLDER must hold the file that defines "
            "handle (--function-path, relative to FOLDER)",
            param_hint="FOLDER",
        )
    spec = {
        "name": name,
        "externalId": external_id,
        "functionPath": function_path,
        "envVars": _pairs(env or [], "--env") or None,
        "secrets": _pairs(secret or [], "--secret") or None,
        "cpu": cpu,
        "memory": memory,
        "runtime": runtime,
    }
    api = remote.api
    file_id = _upload(api, code.zip_folder(folder), name=name, external_id=external_id)
    spec["fileId"] = file_id
    (created,) = api.post("/functions", {"items": [_present(spec)]})["items"]
    built = _show_progress(_statuses(api, created))
    if remote.json:
        emit_json(built)
    if built["status"] == "Failed":
        error = built.get("error") or {}
        note(f"Deploy failed: {error.get('message', 'no reason given')}")
        if error.get("trace"):
            note(f"Build output:\n{error['trace']}")
        raise typer.Exit(1)


def _present(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if value is not None}


def _upload(api: Api, content: bytes, *, name: str, external_id: str | None) -> int:
    """Store the code zip as a file, named like the SDK names it; its id."""
    body = _present({"name": name.replace("/", "-") + ".zip", "externalId": external_id})
    # As the SDK: a file with the function's external id is replaced (the function keeps a
    # snapshot of its code, so no deployed function changes).
    created = api.post("/files", body, overwrite=str(external_id is not None).lower())
    api.upload(created["uploadUrl"], content)
    return int(created["id"])


def _statuses(api: Api, function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The function each time its status changes, until it is built (Ready or Failed)."""
    yield function
    status = function["status"]
    pauses = polling.delays()
    while status not in BUILT:
        time.sleep(next(pauses))
        function = api.get(f"/functions/{function['id']}")
        if function["status"] != status:
            status = function["status"]
            yield function


def _show_progress(statuses: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Each status as a line on stderr (with a spinner while building, on a terminal); the
    built function."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    started = time.monotonic()
    with console.status("Uploaded", spinner="dots") as spinner:
        for function in statuses:
            label = f"{function['name']} (id {function['id']}): {function['status']}"
            console.print(f"{label} ({time.monotonic() - started:.1f} s)", markup=False)
            spinner.update(Text(label))
    return function
