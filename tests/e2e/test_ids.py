"""Ids are never reused, as in CDF (clients keep them: the toolkit's state, links to calls):
delete the newest function, call, schedule and file, create another of each, and each gets a
new id; again after a restart; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass

import pytest
from cognite.client import CogniteClient

from tests.conftest import FUNCTIONS
from tests.e2e.test_postgres import postgres_url  # noqa: F401 - the fixture, asked for by name
from tests.servers import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class Newest:
    function: int
    call: int
    schedule: int
    file: int


def create_each(client: CogniteClient, name: str) -> Newest:
    """A function, a call of it, a schedule of it and a file, each the newest of its kind."""
    function = client.functions.create(name=name, folder=str(FUNCTIONS / "ok"))
    call = function.call(data={"x": 1}, wait=True)
    assert call.status == "Completed", call.error
    schedule = client.functions.schedules.create(
        name=name, cron_expression="0 0 1 1 *", function_id=function.id
    )
    file = client.files.upload_bytes(b"not code", name=f"{name}.txt")
    return Newest(function=function.id, call=call.id, schedule=schedule.id, file=file.id)


def delete_each(client: CogniteClient, newest: Newest) -> None:
    client.functions.schedules.delete(newest.schedule)
    client.files.delete(id=newest.file)
    # Its calls go with it (calls have no delete of their own).
    client.functions.delete(id=newest.function)
    assert client.functions.retrieve(id=newest.function) is None


def assert_all_new(before: Newest, after: Newest) -> None:
    reused = [
        f"{kind} {old} -> {new}"
        for kind, old, new in zip(
            ("function", "call", "schedule", "file"), astuple(before), astuple(after), strict=True
        )
        if new <= old
    ]
    assert reused == []


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's database settings: its own SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"FNHOST_DATABASE_URL": request.getfixturevalue("postgres_url")}


def test_deleted_ids_are_never_given_again_even_after_a_restart(
    make_server: Callable[..., RunningServer], database: dict[str, str]
) -> None:
    server = make_server(database)
    client = server.client("ids")
    first = create_each(client, "first")
    delete_each(client, first)
    second = create_each(client, "second")
    assert_all_new(first, second)

    server.stop()
    server.start()
    client = server.client("ids")
    delete_each(client, second)
    third = create_each(client, "third")
    assert_all_new(second, third)
