"""Transport and round-trip rules of the spec (sections 1 and 11), over raw HTTP."""

from __future__ import annotations

import gzip
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import FUNCTIONS
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e


class Api:
    """Raw HTTP on one project of the shared server."""

    def __init__(self, server: RunningServer) -> None:
        self.project = f"wire-{uuid.uuid4().hex[:8]}"
        self.http = server.http()
        self.base = f"/api/v1/projects/{self.project}"

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(self.base + path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(self.base + path, **kwargs)

    def deploy(self, folder: str, **fields: Any) -> dict[str, Any]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in (FUNCTIONS / folder).rglob("*"):
                archive.write(path, path.relative_to(FUNCTIONS / folder).as_posix())
        file = self.post("/files", {"name": f"{folder}.zip"}).json()
        assert self.http.put(file["uploadUrl"], content=buffer.getvalue()).status_code == 200
        created = self.post(
            "/functions", {"items": [{"name": folder, "fileId": file["id"], **fields}]}
        )
        assert created.status_code == 201, created.text
        function = created.json()["items"][0]
        return wait_until(
            lambda: (
                (f := self.get(f"/functions/{function['id']}").json())["status"] == "Ready" and f
            )
        )

    def call(self, function_id: int, data: Any) -> dict[str, Any]:
        call = self.post(f"/functions/{function_id}/call", {"data": data}).json()
        return wait_until(
            lambda: (
                (c := self.get(f"/functions/{function_id}/calls/{call['id']}").json())["status"]
                != "Running"
                and c
            )
        )


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    api = Api(server)
    yield api
    api.http.close()


def assert_cdf_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert error["code"] == status
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_retrieve_call_fields_and_types(api: Api) -> None:
    ok = api.deploy("ok")
    completed = api.call(ok["id"], {"x": 1})
    assert set(completed) == {"id", "status", "startTime", "endTime", "functionId"}
    assert completed["status"] == "Completed"
    assert completed["functionId"] == ok["id"]
    assert all(isinstance(completed[k], int) for k in ("id", "startTime", "endTime"))
    assert completed["startTime"] <= completed["endTime"]

    raises = api.deploy("raises")
    failed = api.call(raises["id"], {"v": 1})
    assert set(failed) == {"id", "status", "startTime", "endTime", "functionId", "error"}
    assert failed["status"] == "Failed"
    assert failed["error"]["message"] == "ValueError: bad value 1"
    assert "Traceback" in failed["error"]["trace"]

    response = api.get(f"/functions/{raises['id']}/calls/{failed['id']}/response")
    assert response.status_code == 200
    assert response.json() == {"callId": failed["id"], "functionId": raises["id"], "response": None}

    toolkit = api.get(
        f"/functions/{raises['id']}/calls/{failed['id']}",
        headers={"x-cdp-sdk": "CogniteToolkit:0.9.28"},
    )
    assert toolkit.json()["error"] == "ValueError: bad value 1"


def test_retrieve_call_errors(api: Api, server: RunningServer) -> None:
    ok = api.deploy("ok")
    other = api.deploy("ok", name="other")
    call = api.call(ok["id"], {"x": 1})
    unknown = assert_cdf_error(api.get(f"/functions/{ok['id']}/calls/987654321"), 400)
    assert unknown["missing"] == [{"id": 987654321}]
    wrong_function = assert_cdf_error(api.get(f"/functions/{other['id']}/calls/{call['id']}"), 400)
    assert wrong_function["missing"] == [{"id": call["id"]}]
    assert (
        "integer" in assert_cdf_error(api.get(f"/functions/{ok['id']}/calls/abc"), 400)["message"]
    )
    path = f"{api.base}/functions/{ok['id']}/calls/{call['id']}"
    assert_cdf_error(httpx.get(server.url + path), 401)
    assert_cdf_error(httpx.get(server.url + path, headers={"Authorization": "Bearer nope"}), 401)
    with server.http() as http:
        other_project = http.get(path.replace(api.project, "elsewhere"))
    assert assert_cdf_error(other_project, 400)["missing"] == [{"id": ok["id"]}]


def test_gzip_bodies_and_empty_gzip_get(api: Api) -> None:
    body = gzip.compress(json.dumps({"filter": {}, "limit": 10000}).encode())
    listed = api.post(
        "/functions/list",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert listed.status_code == 200 and listed.json() == {"items": []}
    bad = api.post("/functions/list", content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert "gzip" in assert_cdf_error(bad, 400)["message"]
    limits = api.get("/functions/limits", headers={"Content-Encoding": "gzip"})
    assert limits.status_code == 200
    assert assert_cdf_error(api.post("/functions/list", {"filter": {}, "limit": 10001}), 400)


def test_unknown_ids_missing_and_ignore(api: Api) -> None:
    items = [{"id": 424242}, {"externalId": "nope"}]
    error = assert_cdf_error(api.post("/functions/byids", {"items": items}), 400)
    assert error["missing"] == items
    ignored = api.post("/functions/byids", {"items": items, "ignoreUnknownIds": True})
    assert ignored.json() == {"items": []}
    assert (
        assert_cdf_error(api.post("/functions/delete", {"items": items}), 400)["missing"] == items
    )


def test_duplicates_and_case_insensitive_overwrite(api: Api) -> None:
    first = api.post("/files", {"name": "a.zip", "externalId": "code"}).json()
    duplicate = assert_cdf_error(api.post("/files", {"name": "a.zip", "externalId": "code"}), 409)
    assert duplicate["duplicated"] == [{"externalId": "code"}]
    for flag in ("True", "true"):
        replaced = api.post(f"/files?overwrite={flag}", {"name": "b.zip", "externalId": "code"})
        assert replaced.status_code == 201
        assert replaced.json()["id"] == first["id"] and replaced.json()["name"] == "b.zip"
        assert replaced.json()["uploaded"] is False


def test_sdk_v6_nulls_and_empty_strings_are_unset(api: Api) -> None:
    file = api.post("/files", {"name": "c.zip"}).json()
    api.http.put(file["uploadUrl"], content=(FUNCTIONS / "ok" / "handler.py").read_bytes())
    created = api.post(
        "/functions",
        {
            "items": [
                {
                    "name": "v6",
                    "fileId": file["id"],
                    "description": "",
                    "owner": "",
                    "envVars": None,
                    "metadata": None,
                    "secrets": None,
                    "functionPath": "handler.py",
                    "runtime": None,
                    "externalId": None,
                }
            ]
        },
    )
    assert created.status_code == 201, created.text
    function = created.json()["items"][0]
    for absent in ("description", "owner", "envVars", "metadata", "secrets", "externalId"):
        assert absent not in function
    assert None not in function.values() and "" not in function.values()


def test_call_without_data_and_request_ids(api: Api) -> None:
    ok = api.deploy("echo_all", name="echo")
    session = api.post("/sessions", {"items": [{"tokenExchange": True}]}).json()["items"][0]
    call = api.post(f"/functions/{ok['id']}/call", {"nonce": session["nonce"]})
    # Running, or already ended when it ended within FNHOST_CALL_WAIT_MS.
    assert call.status_code == 201 and call.json()["status"] in ("Running", "Completed")
    reused = api.post(f"/functions/{ok['id']}/call", {"nonce": session["nonce"]})
    assert "bind session" in assert_cdf_error(reused, 400)["message"]
    done = wait_until(
        lambda: (
            (c := api.get(f"/functions/{ok['id']}/calls/{call.json()['id']}").json())["status"]
            != "Running"
            and c
        )
    )
    assert done["status"] == "Completed", done
    response = api.get(f"/functions/{ok['id']}/calls/{done['id']}/response").json()
    assert response["response"]["data"] is None
    assert api.get("/nothing/here").headers["x-request-id"]
    assert_cdf_error(api.get("/nothing/here"), 404)


def test_get_variants_of_list_and_retrieve(api: Api) -> None:
    ok = api.deploy("ok")
    assert [f["id"] for f in api.get("/functions", params={"limit": 5}).json()["items"]] == [
        ok["id"]
    ]
    assert api.get(f"/functions/{ok['id']}").json()["id"] == ok["id"]
    call = api.call(ok["id"], {"x": 1})
    listed = api.get(f"/functions/{ok['id']}/calls").json()["items"]
    assert [c["id"] for c in listed] == [call["id"]]
    logs = api.get(f"/functions/{ok['id']}/calls/{call['id']}/logs").json()
    assert logs == {"items": []}


def test_download_link_returns_the_uploaded_bytes(api: Api) -> None:
    file = api.post("/files", {"name": "d.bin", "mimeType": "application/zip"}).json()
    api.http.put(file["uploadUrl"], content=b"payload")
    link = api.post("/files/downloadlink", {"items": [{"id": file["id"]}]}).json()["items"][0]
    assert link["id"] == file["id"]
    downloaded = httpx.get(link["downloadUrl"])
    assert downloaded.content == b"payload"
    assert downloaded.headers["content-type"] == "application/zip"
    uploaded = api.post("/files/byids", {"items": [{"id": file["id"]}]}).json()["items"][0]
    assert uploaded["uploaded"] is True and uploaded["mimeType"] == "application/zip"
    assert api.post("/files/delete", {"items": [{"id": file["id"]}]}).status_code == 200
    assert httpx.get(link["downloadUrl"]).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/functions/{big}", None),
        ("POST", "/functions/list", {"filter": {"fileId": "{big}"}}),
        ("POST", "/functions/list", {"filter": {"createdTime": {"min": "{big}"}}}),
        ("POST", "/functions/{big}/call", {}),
        ("POST", "/functions/1/calls/list", {"filter": {"startTime": {"max": "{big}"}}}),
        (
            "POST",
            "/functions/schedules",
            {"items": [{"name": "s", "cronExpression": "61 * * * *", "functionId": 1}]},
        ),
        ("POST", "/datasets/byids", {"items": [{"id": "{big}"}]}),
    ],
)
def test_out_of_range_numbers_are_a_400(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    big = 2**70  # past every database integer
    payload = json.loads(json.dumps(body).replace('"{big}"', str(big))) if body else None
    response = api.http.request(method, api.base + path.format(big=big), json=payload)
    assert_cdf_error(response, 400)


def test_an_unknown_upload_url_stores_nothing(api: Api, server: RunningServer) -> None:
    blobs = server.data_dir / "blobs"
    before = sorted(blobs.rglob("*"))
    response = httpx.put(f"{server.url}/api/v1/files/upload/not-a-key", content=b"junk bytes")
    assert_cdf_error(response, 404)
    assert sorted(blobs.rglob("*")) == before
