import gzip
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from fnhost.api import errors
from fnhost.api.middleware import BodyLimit, RequestIdAndBody


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {"body": body.decode(), "encoding": request.headers.get("content-encoding")}
    )


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.add_api_route("/", echo, methods=["GET", "POST"])
    app.add_api_route("/upload/x", echo, methods=["PUT"])
    app.add_middleware(
        RequestIdAndBody,
        limit=BodyLimit(100, "FNHOST_REQUEST_BODY_MAX_BYTES"),
        limits_by_prefix={"/upload/": BodyLimit(1000, "FNHOST_UPLOAD_MAX_BYTES")},
    )
    return TestClient(app)


def test_gzip_body_is_decoded(client: TestClient) -> None:
    response = client.post(
        "/", content=gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip"}
    )
    assert response.json() == {"body": '{"a": 1}', "encoding": None}
    assert len(response.headers["x-request-id"]) == 32


def test_empty_gzip_get_is_accepted(client: TestClient) -> None:
    assert client.get("/", headers={"Content-Encoding": "gzip"}).json()["body"] == ""


def test_invalid_gzip_is_a_400(client: TestClient) -> None:
    response = client.post("/", content=b"plain", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "not valid gzip" in response.json()["error"]["message"]
    assert len(response.headers["x-request-id"]) == 32


def test_gzip_bomb_is_a_413(client: TestClient) -> None:
    response = client.post(
        "/", content=gzip.compress(b"0" * 10_000), headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert "FNHOST_REQUEST_BODY_MAX_BYTES" in response.json()["error"]["message"]
    assert len(response.headers["x-request-id"]) == 32


def test_large_compressed_body_is_a_413_before_it_is_all_read(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield from [b"\x1f\x8b" + b"0" * 98, b"0" * 100, b"0" * 100]

    response = client.post("/", content=chunks(), headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_plain_bodies_pass_through(client: TestClient) -> None:
    assert client.post("/", content=b"hello").json()["body"] == "hello"


def test_plain_body_past_the_limit_is_a_413(client: TestClient) -> None:
    # Found by reading the middleware while fuzzing: only gzip bodies were capped, so a plain
    # body of any size was held in memory whole.
    response = client.post("/", content=b"0" * 101)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": 413,
        "message": "The request body is too large; the limit is 100 "
        "(FNHOST_REQUEST_BODY_MAX_BYTES)",
    }


def test_chunked_body_past_the_limit_is_a_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield from [b"0" * 60, b"0" * 60]

    response = client.post("/", content=chunks())
    assert response.status_code == 413
    assert "FNHOST_REQUEST_BODY_MAX_BYTES" in response.json()["error"]["message"]


def test_upload_prefix_has_its_own_limit(client: TestClient) -> None:
    assert client.put("/upload/x", content=b"0" * 500).status_code == 200
    response = client.put("/upload/x", content=b"0" * 1001)
    assert response.status_code == 413
    assert "FNHOST_UPLOAD_MAX_BYTES" in response.json()["error"]["message"]


@pytest.mark.parametrize("encoding", ["br", "deflate", "AAA"])
def test_unsupported_content_encoding_is_a_415(client: TestClient, encoding: str) -> None:
    # Found by the fuzz run: an unknown encoding was ignored and the body read as plain JSON.
    response = client.post("/", content=b"{}", headers={"Content-Encoding": encoding})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == 415
    assert encoding.lower() in response.json()["error"]["message"]


def test_identity_encoding_is_plain(client: TestClient) -> None:
    response = client.post("/", content=b"hi", headers={"Content-Encoding": "identity"})
    assert response.json()["body"] == "hi"
