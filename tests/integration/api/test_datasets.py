"""Data sets: update with CDF's update objects, list with a filter, count; bad input is a 4xx
that changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps import InProcess, in_process

BASE = "/api/v1/projects/ds/datasets"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        await running.http.post(
            BASE,
            json={
                "items": [
                    {"externalId": "code", "name": "Code", "metadata": {"team": "a", "k": "v"}},
                    {"externalId": "other", "description": "d", "writeProtected": True},
                ]
            },
        )
        yield running


async def _update(app: InProcess, *items: dict[str, Any]) -> Any:
    return await app.http.post(f"{BASE}/update", json={"items": list(items)})


async def _by_xid(app: InProcess, external_id: str) -> dict[str, Any]:
    found = await app.http.post(f"{BASE}/byids", json={"items": [{"externalId": external_id}]})
    return dict(found.json()["items"][0])


async def test_update_sets_clears_and_changes_metadata(app: InProcess) -> None:
    before = await _by_xid(app, "code")
    updated = await _update(
        app,
        {
            "externalId": "code",
            "update": {
                "name": {"setNull": True},
                "description": {"set": "Function code"},
                "metadata": {"add": {"owner": "me"}, "remove": ["k"]},
                "writeProtected": {"set": True},
            },
        },
        {"id": before["id"] + 1, "update": {"metadata": {"set": {"only": "this"}}}},
    )
    assert updated.status_code == 200, updated.text
    first, second = updated.json()["items"]
    assert first["externalId"] == "code" and "name" not in first
    assert first["description"] == "Function code"
    assert first["metadata"] == {"team": "a", "owner": "me"}
    assert first["writeProtected"] is True
    assert first["lastUpdatedTime"] >= before["lastUpdatedTime"]
    assert second["metadata"] == {"only": "this"}
    assert await _by_xid(app, "code") == first

    renamed = await _update(app, {"externalId": "code", "update": {"externalId": {"set": "fn"}}})
    assert renamed.json()["items"][0]["externalId"] == "fn"
    assert (await _by_xid(app, "fn"))["id"] == before["id"]


@pytest.mark.parametrize(
    ("items", "status", "expected"),
    [
        (
            [{"externalId": "nope", "update": {"name": {"set": "x"}}}],
            400,
            {"missing": [{"externalId": "nope"}]},
        ),
        (
            [{"externalId": "code", "update": {"externalId": {"set": "other"}}}],
            409,
            {"duplicated": [{"externalId": "other"}]},
        ),
        (
            [
                {"externalId": "code", "update": {"externalId": {"set": "same"}}},
                {"externalId": "other", "update": {"externalId": {"set": "same"}}},
            ],
            409,
            {"duplicated": [{"externalId": "same"}]},
        ),
        (
            [
                {"externalId": "code", "update": {"name": {"set": "a"}}},
                {"id": 1, "update": {"name": {"set": "b"}}},
            ],
            400,
            {"message": "Each data set may be updated once per request"},
        ),
        ([{"externalId": "code", "update": {"name": {"set": None}}}], 400, {}),
        ([{"externalId": "code", "update": {"name": {"set": "x" * 51}}}], 400, {}),
        ([{"externalId": "code", "update": {"colour": {"set": "red"}}}], 400, {}),
        ([{"externalId": "code", "update": {"metadata": {"set": {}, "add": {}}}}], 400, {}),
        ([{"externalId": "code", "update": {"writeProtected": {"setNull": True}}}], 400, {}),
        ([{"externalId": "code", "id": 1, "update": {}}], 400, {}),
    ],
)
async def test_bad_updates_are_refused_and_change_nothing(
    app: InProcess, items: list[dict[str, Any]], status: int, expected: dict[str, Any]
) -> None:
    before = await app.snapshot()
    response = await _update(app, *items)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    assert {key: error[key] for key in expected} == expected
    assert await app.snapshot() == before


async def test_own_external_id_may_be_set_again(app: InProcess) -> None:
    same = await _update(app, {"externalId": "code", "update": {"externalId": {"set": "code"}}})
    assert same.status_code == 200, same.text


async def _listed(app: InProcess, filter: dict[str, Any]) -> list[str]:
    response = await app.http.post(f"{BASE}/list", json={"filter": filter, "limit": 10})
    assert response.status_code == 200, response.text
    counted = await app.http.post(f"{BASE}/aggregate", json={"filter": filter})
    xids = [item["externalId"] for item in response.json()["items"]]
    assert counted.json() == {"items": [{"count": len(xids)}]}
    return xids


async def test_list_and_count_match_the_filter(app: InProcess) -> None:
    assert await _listed(app, {}) == ["code", "other"]
    assert await _listed(app, {"externalIdPrefix": "co"}) == ["code"]
    # A prefix is literal and case-sensitive: no LIKE wildcards.
    assert await _listed(app, {"externalIdPrefix": "_ode"}) == []
    assert await _listed(app, {"externalIdPrefix": "CODE"}) == []
    assert await _listed(app, {"metadata": {"team": "a"}}) == ["code"]
    assert await _listed(app, {"metadata": {"team": "b"}}) == []
    assert await _listed(app, {"writeProtected": True}) == ["other"]
    assert await _listed(app, {"createdTime": {"min": 0}}) == ["code", "other"]
    assert await _listed(app, {"lastUpdatedTime": {"max": 0}}) == []


async def test_unknown_filter_fields_are_refused_not_ignored(app: InProcess) -> None:
    response = await app.http.post(f"{BASE}/list", json={"filter": {"assetIds": [1]}})
    assert response.status_code == 400
    assert "filter.assetIds" in response.json()["error"]["message"]
