"""Schedule endpoints S1-S6 in process: field rules, filters, errors that change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps import InProcess, in_process, upload_code

PROJECT = "sched-api"
P = f"/api/v1/projects/{PROJECT}"
S = f"{P}/functions/schedules"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        yield running


async def make_function(app: InProcess, external_id: str | None = None) -> dict[str, Any]:
    file_id = await upload_code(app, PROJECT)
    item: dict[str, Any] = {"name": "f", "fileId": file_id}
    if external_id:
        item["externalId"] = external_id
    created = await app.http.post(f"{P}/functions", json={"items": [item]})
    assert created.status_code == 201, created.text
    return dict(created.json()["items"][0])


async def nonce(app: InProcess) -> str:
    created = await app.http.post(f"{P}/sessions", json={"items": [{"tokenExchange": True}]})
    return str(created.json()["items"][0]["nonce"])


async def create(app: InProcess, **item: Any) -> dict[str, Any]:
    item = {"name": "s", "cronExpression": "*/5 * * * *"} | item
    created = await app.http.post(S, json={"items": [item]})
    assert created.status_code == 201, created.text
    return dict(created.json()["items"][0])


async def test_create_returns_the_schedule_without_its_data(app: InProcess) -> None:
    function = await make_function(app, external_id="fx")
    assert function["status"] == "Queued"  # schedules may come before the build
    schedule = await create(
        app,
        functionId=function["id"],
        description="cdf-auth: abc",
        data={"k": [1, 2]},
        nonce=await nonce(app),
    )
    assert set(schedule) == {
        "id",
        "name",
        "functionId",
        "functionExternalId",
        "description",
        "cronExpression",
        "when",
        "sessionId",
        "createdTime",
    }
    assert schedule["functionExternalId"] == "fx"
    assert schedule["when"] == "Every 5 minutes"
    assert isinstance(schedule["sessionId"], int)
    [again] = (await app.http.post(f"{S}/byids", json={"items": [{"id": schedule["id"]}]})).json()[
        "items"
    ]
    assert again == schedule
    data = await app.http.get(f"{S}/{schedule['id']}/input_data")
    assert data.json() == {"id": schedule["id"], "data": {"k": [1, 2]}}


async def test_input_data_is_absent_without_data(app: InProcess) -> None:
    function = await make_function(app)
    schedule = await create(app, functionId=function["id"], nonce=await nonce(app))
    data = await app.http.get(f"{S}/{schedule['id']}/input_data")
    assert data.json() == {"id": schedule["id"]}


async def test_sdk_v6_null_function_external_id_is_accepted(app: InProcess) -> None:
    function = await make_function(app)
    schedule = await create(
        app, functionId=function["id"], functionExternalId=None, nonce=await nonce(app)
    )
    assert schedule["functionId"] == function["id"]


async def test_function_external_id_without_a_nonce_is_resolved(app: InProcess) -> None:
    function = await make_function(app, external_id="by-xid")
    schedule = await create(app, functionExternalId="by-xid")
    assert schedule["functionId"] == function["id"]


@pytest.mark.parametrize(
    ("item", "status", "message"),
    [
        ({"cronExpression": "61 * * * *"}, 400, "bad minute field '61'"),
        ({"cronExpression": "* * * * * *"}, 400, "has 6 fields; expected 5"),
        ({"functionExternalId": "fx"}, 400, "you must use functionId"),
        ({"functionId": None}, 400, "functionId is required"),
        ({"functionId": 999}, 400, "Function not found"),
        ({"name": ""}, 400, "name"),
        ({"data": [1, 2]}, 400, "data"),
    ],
)
async def test_invalid_schedules_are_refused_and_change_nothing(
    app: InProcess, item: dict[str, Any], status: int, message: str
) -> None:
    function = await make_function(app, external_id="fx")
    session_nonce = await nonce(app)
    before = await app.snapshot()
    body = {"name": "s", "cronExpression": "* * * * *", "functionId": function["id"]}
    refused = await app.http.post(S, json={"items": [body | item | {"nonce": session_nonce}]})
    assert refused.status_code == status, refused.text
    assert message in refused.json()["error"]["message"]
    assert await app.snapshot() == before
    # The nonce was not consumed.
    await create(app, functionId=function["id"], nonce=session_nonce)


async def test_unknown_function_lists_it_as_missing(app: InProcess) -> None:
    refused = await app.http.post(
        S, json={"items": [{"name": "s", "cronExpression": "* * * * *", "functionId": 999}]}
    )
    assert refused.json()["error"]["missing"] == [{"id": 999}]


async def test_a_used_nonce_is_refused(app: InProcess) -> None:
    function = await make_function(app)
    used = await nonce(app)
    await create(app, functionId=function["id"], nonce=used)
    refused = await app.http.post(
        S,
        json={
            "items": [
                {"name": "s", "cronExpression": "* * * * *", "functionId": function["id"]}
                | {"nonce": used}
            ]
        },
    )
    assert refused.status_code == 400
    assert "Failed to bind session" in refused.json()["error"]["message"]


async def test_a_one_shot_session_cannot_run_a_schedule(app: InProcess) -> None:
    function = await make_function(app)
    created = await app.http.post(f"{P}/sessions", json={"items": [{"oneshotTokenExchange": True}]})
    one_shot = created.json()["items"][0]["nonce"]
    refused = await app.http.post(
        S,
        json={
            "items": [
                {"name": "s", "cronExpression": "* * * * *", "functionId": function["id"]}
                | {"nonce": one_shot}
            ]
        },
    )
    assert refused.status_code == 400
    assert "one-shot session cannot run a schedule" in refused.json()["error"]["message"]


async def test_list_filters(app: InProcess) -> None:
    first = await make_function(app, external_id="one")
    second = await make_function(app, external_id="two")
    a = await create(app, functionId=first["id"], name="a", cronExpression="0 * * * *")
    b = await create(app, functionId=first["id"], name="b")
    c = await create(app, functionId=second["id"], name="a")

    async def ids(body: dict[str, Any] | None) -> list[int]:
        listed = await app.http.post(f"{S}/list", json=body)
        assert listed.status_code == 200, listed.text
        return [item["id"] for item in listed.json()["items"]]

    assert await ids(None) == [a["id"], b["id"], c["id"]]
    assert await ids({"limit": 1000}) == [a["id"], b["id"], c["id"]]
    assert await ids({"filter": {"functionId": first["id"]}}) == [a["id"], b["id"]]
    assert await ids({"filter": {"functionExternalId": "two"}}) == [c["id"]]
    assert await ids({"filter": {"functionExternalId": "three"}}) == []
    assert await ids({"filter": {"name": "a"}}) == [a["id"], c["id"]]
    assert await ids({"filter": {"cronExpression": "0 * * * *"}}) == [a["id"]]
    assert await ids({"filter": {"createdTime": {"min": b["createdTime"]}}}) == [
        s["id"] for s in (a, b, c) if s["createdTime"] >= b["createdTime"]
    ]
    both = await app.http.post(
        f"{S}/list", json={"filter": {"functionId": first["id"], "functionExternalId": "one"}}
    )
    assert both.status_code == 400


async def test_list_pages_with_a_cursor(app: InProcess) -> None:
    function = await make_function(app)
    made = [(await create(app, functionId=function["id"], name=str(i)))["id"] for i in range(3)]
    page = (await app.http.post(f"{S}/list", json={"limit": 2})).json()
    rest = (
        await app.http.post(f"{S}/list", json={"limit": 2, "cursor": page["nextCursor"]})
    ).json()
    assert [s["id"] for s in page["items"] + rest["items"]] == made
    assert "nextCursor" not in rest


async def test_unknown_ids_are_missing_unless_ignored(app: InProcess) -> None:
    function = await make_function(app)
    schedule = await create(app, functionId=function["id"])
    items = [{"id": schedule["id"]}, {"id": 12345}]
    missing = await app.http.post(f"{S}/byids", json={"items": items})
    assert missing.status_code == 400
    assert missing.json()["error"]["missing"] == [{"id": 12345}]
    ignored = await app.http.post(f"{S}/byids", json={"items": items, "ignoreUnknownIds": True})
    assert [s["id"] for s in ignored.json()["items"]] == [schedule["id"]]
    before = await app.snapshot()
    refused = await app.http.post(f"{S}/delete", json={"items": items})
    assert refused.json()["error"]["missing"] == [{"id": 12345}]
    assert await app.snapshot() == before
    assert (await app.http.get(f"{S}/12345/input_data")).json()["error"]["missing"] == [
        {"id": 12345}
    ]


async def test_delete_removes_the_schedule(app: InProcess) -> None:
    function = await make_function(app)
    schedule = await create(app, functionId=function["id"])
    deleted = await app.http.post(f"{S}/delete", json={"items": [{"id": schedule["id"]}]})
    assert (deleted.status_code, deleted.json()) == (200, {})
    gone = await app.http.post(f"{S}/byids", json={"items": [{"id": schedule["id"]}]})
    assert gone.json()["error"]["missing"] == [{"id": schedule["id"]}]


async def test_deleting_a_function_deletes_its_schedules(app: InProcess) -> None:
    kept, doomed = await make_function(app), await make_function(app)
    survivor = await create(app, functionId=kept["id"])
    await create(app, functionId=doomed["id"])
    await app.http.post(f"{P}/functions/delete", json={"items": [{"id": doomed["id"]}]})
    listed = await app.http.post(f"{S}/list", json={"filter": {}})
    assert [s["id"] for s in listed.json()["items"]] == [survivor["id"]]


async def test_schedules_are_invisible_to_other_projects(app: InProcess) -> None:
    function = await make_function(app)
    schedule = await create(app, functionId=function["id"])
    other = "/api/v1/projects/elsewhere/functions/schedules"
    assert (await app.http.post(f"{other}/list", json={})).json() == {"items": []}
    found = await app.http.post(f"{other}/byids", json={"items": [{"id": schedule["id"]}]})
    assert found.json()["error"]["missing"] == [{"id": schedule["id"]}]
