import gzip

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fnhost.api.middleware import RequestIdAndGunzip


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {"body": body.decode(), "encoding": request.headers.get("content-encoding")}
    )


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/", echo, methods=["GET", "POST"])])
    app.add_middleware(RequestIdAndGunzip, max_bytes=100)
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


def test_plain_bodies_pass_through(client: TestClient) -> None:
    assert client.post("/", content=b"hello").json()["body"] == "hello"
