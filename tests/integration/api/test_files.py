"""Files: download links and uploads refuse what is not theirs, whatever the URL holds; list
and count with a filter, new upload links, multipart uploads; bad input is a 4xx that changes
nothing. On SQLite (bytes in the data directory) and on PostgreSQL (bytes in the database)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps import InProcess, in_process, upload_code
from tests.postgres import fresh_database

BASE = "/api/v1/projects/fs/files"
LIMIT = 1000


@pytest.fixture(params=["sqlite", "postgresql"])
async def app(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[InProcess]:
    with contextlib.ExitStack() as stack:
        database: dict[str, str] = {}
        if request.param == "postgresql":
            database["database_url"] = stack.enter_context(fresh_database())
        async with in_process(tmp_path / "data", upload_max_bytes=LIMIT, **database) as running:
            yield running


async def _create(app: InProcess, **fields: Any) -> dict[str, Any]:
    created = await app.http.post(BASE, json={"name": "f", **fields})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _content(app: InProcess, file_id: int) -> bytes:
    link = await app.http.post(f"{BASE}/downloadlink", json={"items": [{"id": file_id}]})
    return (await app.http.get(link.json()["items"][0]["downloadUrl"])).content


async def _listed(app: InProcess, filter: dict[str, Any]) -> list[str]:
    xids: list[str] = []
    cursor = None
    while True:
        page = await app.http.post(
            f"{BASE}/list", json={"filter": filter, "limit": 1, "cursor": cursor}
        )
        assert page.status_code == 200, page.text
        xids += [item["externalId"] for item in page.json()["items"]]
        if (cursor := page.json().get("nextCursor")) is None:
            break
    counted = await app.http.post(f"{BASE}/aggregate", json={"filter": filter})
    assert counted.json() == {"items": [{"count": len(xids)}]}
    return xids


async def test_list_and_count_match_the_filter(app: InProcess) -> None:
    created = await app.http.post(
        "/api/v1/projects/fs/datasets", json={"items": [{"externalId": "code"}]}
    )
    dataset_id = created.json()["items"][0]["id"]
    zipped = await _create(
        app,
        externalId="fn-a",
        mimeType="application/zip",
        dataSetId=dataset_id,
        directory="/functions/a",
        metadata={"team": "x"},
    )
    await app.http.put(zipped["uploadUrl"], content=b"zip")
    await _create(app, externalId="fn-b", source="toolkit")
    await _create(app, externalId="other", name="readme.txt")

    assert await _listed(app, {}) == ["fn-a", "fn-b", "other"]
    assert await _listed(app, {"externalIdPrefix": "fn-"}) == ["fn-a", "fn-b"]
    assert await _listed(app, {"uploaded": True}) == ["fn-a"]
    assert await _listed(app, {"mimeType": "application/zip"}) == ["fn-a"]
    assert await _listed(app, {"source": "toolkit"}) == ["fn-b"]
    assert await _listed(app, {"directoryPrefix": "/functions/"}) == ["fn-a"]
    assert await _listed(app, {"metadata": {"team": "x"}}) == ["fn-a"]
    assert await _listed(app, {"name": "readme.txt"}) == ["other"]
    assert await _listed(app, {"dataSetIds": [{"id": dataset_id}]}) == ["fn-a"]
    assert await _listed(app, {"dataSetIds": [{"externalId": "code"}]}) == ["fn-a"]
    assert await _listed(app, {"uploadedTime": {"min": 0}}) == ["fn-a"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"filter": {"assetIds": [1]}}, "filter.assetIds"),
        ({"filter": {"dataSetIds": [{"externalId": "none"}]}}, "Data sets not found"),
        ({"partition": "1/2"}, "partition"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_list_refuses_what_it_cannot_answer(
    app: InProcess, body: dict[str, Any], expected: str
) -> None:
    response = await app.http.post(f"{BASE}/list", json=body)
    assert response.status_code == 400
    assert expected in response.json()["error"]["message"]


async def test_upload_link_replaces_the_bytes_and_retires_the_old_url(app: InProcess) -> None:
    created = await _create(app, externalId="code")
    await app.http.put(created["uploadUrl"], content=b"first")
    linked = await app.http.post(f"{BASE}/uploadlink", json={"items": [{"externalId": "code"}]})
    assert linked.status_code == 200, linked.text
    (again,) = linked.json()["items"]
    assert again["id"] == created["id"] and again["uploadUrl"] != created["uploadUrl"]

    stale = await app.http.put(created["uploadUrl"], content=b"stale")
    assert stale.status_code == 404
    assert (await app.http.put(again["uploadUrl"], content=b"second")).status_code == 200
    assert await _content(app, created["id"]) == b"second"


async def _start(app: InProcess, parts: int, **fields: Any) -> Any:
    return await app.http.post(
        f"{BASE}/initmultipartupload",
        params={"parts": parts, "overwrite": "true"},
        json={"name": "big.zip", **fields},
    )


async def test_multipart_upload_joins_its_parts_in_order(app: InProcess) -> None:
    started = await _start(app, 3, externalId="big")
    assert started.status_code == 201, started.text
    upload = started.json()
    assert upload["uploaded"] is False and len(upload["uploadUrls"]) == 3
    for index in (2, 0, 1):
        put = await app.http.put(upload["uploadUrls"][index], content=f"part{index};".encode())
        assert put.status_code == 200, put.text
    done = await app.http.post(
        f"{BASE}/completemultipartupload", json={"id": upload["id"], "uploadId": upload["uploadId"]}
    )
    assert done.status_code == 200, done.text
    assert await _content(app, upload["id"]) == b"part0;part1;part2;"

    # New bytes for the same file, in parts again.
    relinked = await app.http.post(
        f"{BASE}/multiuploadlink", params={"parts": 1}, json={"items": [{"externalId": "big"}]}
    )
    (again,) = relinked.json()["items"]
    await app.http.put(again["uploadUrls"][0], content=b"whole")
    await app.http.post(
        f"{BASE}/completemultipartupload", json={"id": again["id"], "uploadId": again["uploadId"]}
    )
    assert await _content(app, upload["id"]) == b"whole"


async def test_multipart_upload_refuses_bad_input_and_uploads_nothing(app: InProcess) -> None:
    for parts in (0, 251):
        refused = await _start(app, parts)
        assert refused.status_code == 400 and "parts" in refused.json()["error"]["message"]
    upload = (await _start(app, 2)).json()
    await app.http.put(upload["uploadUrls"][0], content=b"only one")

    def complete(upload_id: str) -> Any:
        return app.http.post(
            f"{BASE}/completemultipartupload", json={"id": upload["id"], "uploadId": upload_id}
        )

    missing = await complete(upload["uploadId"])
    assert missing.status_code == 400
    assert "Parts [1] of 2 were not uploaded" in missing.json()["error"]["message"]
    wrong = await complete("2.not-the-key")
    assert wrong.status_code == 400
    assert "No multipart upload" in wrong.json()["error"]["message"]
    too_many = await complete(upload["uploadId"].replace("2.", "9999.", 1))
    assert too_many.status_code == 400
    too_big = await app.http.put(upload["uploadUrls"][1], content=b"x" * LIMIT)
    assert too_big.status_code == 413
    unknown = await app.http.put(
        upload["uploadUrls"][1].replace(upload["uploadId"].split(".", 1)[1], "nope"), content=b""
    )
    assert unknown.status_code == 404
    found = await app.http.post(f"{BASE}/byids", json={"items": [{"id": upload["id"]}]})
    assert found.json()["items"][0]["uploaded"] is False


async def test_a_request_fnhost_does_not_serve_says_so(app: InProcess) -> None:
    response = await app.http.post(f"{BASE}/search", json={"search": {"name": "x"}})
    assert response.status_code in (404, 405)
    message = response.json()["error"]["message"]
    assert message.startswith(f"POST {BASE}/search is not part of the API fnhost serves")


async def test_download_link_with_non_ascii_token_is_a_404(tmp_path: Path) -> None:
    # Found by the fuzz run: the token was compared as str, which compare_digest refuses for
    # non-ASCII text (a 500).
    async with in_process(tmp_path) as app:
        file_id = await upload_code(app, "files")
        response = await app.http.get(f"/api/v1/files/download/{file_id}/%E1%9A%9B6")
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": 404,
            "message": "Unknown or expired download link",
        }


async def test_upload_past_its_limit_is_a_413_and_stores_nothing(tmp_path: Path) -> None:
    async with in_process(tmp_path, upload_max_bytes=1000) as app:
        created = await app.http.post("/api/v1/projects/files/files", json={"name": "a.zip"})
        before = await app.snapshot()
        response = await app.http.put(created.json()["uploadUrl"], content=b"0" * 1001)
        assert response.status_code == 413
        assert "FNHOST_UPLOAD_MAX_BYTES" in response.json()["error"]["message"]
        assert await app.snapshot() == before
