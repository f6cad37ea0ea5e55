"""Find a function by whatever the user has of it: its id, its external id or its name."""

from typing import Any

from fnhost.cli.remote.api import Api
from fnhost.cli.remote.errors import CliError

MAX_ID = 2**53 - 1  # ids on the wire are in 1..2^53-1


def function(api: Api, ref: str) -> dict[str, Any]:
    """The function `ref` names: the one with that id (when it is a number), else with that
    external id, else the only one with that name."""
    # One request asks for both; the id wins when a function has the other as external id.
    wanted: list[tuple[str, str | int]] = [("externalId", ref)]
    if ref.isdigit() and 0 < int(ref) <= MAX_ID:
        wanted.insert(0, ("id", int(ref)))
    items = [{key: value} for key, value in wanted]
    found = api.post("/functions/byids", {"items": items, "ignoreUnknownIds": True})["items"]
    for key, value in wanted:
        for candidate in found:
            if candidate.get(key) == value:
                return dict(candidate)
    named = list(api.list_all("/functions/list", {"filter": {"name": ref}}))
    if len(named) == 1:
        return dict(named[0])
    project = api.connection.project
    if not named:
        raise CliError(
            f"No function {ref!r} in project {project!r}: none has this id, external id or name"
        )
    candidates = "; ".join(
        f"id {f['id']}" + (f", external id {f['externalId']!r}" if f.get("externalId") else "")
        for f in named
    )
    raise CliError(
        f"{len(named)} functions in project {project!r} are named {ref!r}; "
        f"name one by id or external id: {candidates}"
    )
