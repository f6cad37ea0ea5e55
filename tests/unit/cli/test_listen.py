"""How the server listens: the warning for plain HTTP beyond loopback, TLS and proxies."""

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fnhost.cli import listen
from fnhost.settings import ServerSettings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_warning(host: str) -> None:
    assert listen.plain_http_warning(ServerSettings(host=host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "fnhost.example.com"])
def test_plain_http_beyond_loopback_is_warned_about(host: str) -> None:
    warning = listen.plain_http_warning(ServerSettings(host=host, port=8000))
    assert warning is not None
    assert f"{host}:8000 over plain HTTP" in warning
    assert "FNHOST_TLS_CERT_FILE" in warning


def test_tls_needs_no_warning(tmp_path: Path) -> None:
    server = ServerSettings(host="0.0.0.0", tls_cert_file=tmp_path, tls_key_file=tmp_path)
    assert listen.plain_http_warning(server) is None


def test_config_passes_tls_and_trusted_proxies(tmp_path: Path) -> None:
    server = ServerSettings(
        tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k", forwarded_allow_ips="10.0.0.1"
    )
    config = listen.config(Starlette(), server)
    assert (config.ssl_certfile, config.ssl_keyfile) == (tmp_path / "c", tmp_path / "k")
    assert config.proxy_headers is False  # done by ForwardedHeaders, Host included
    assert isinstance(config.app, listen.ForwardedHeaders)


async def _where(request: Request) -> JSONResponse:
    return JSONResponse({"url": str(request.url), "client": request.client and request.client.host})


def _client(trusted: str) -> TestClient:
    app = Starlette(routes=[Route("/where", _where)])
    # TestClient connects from "testclient".
    return TestClient(listen.ForwardedHeaders(app, trusted_hosts=trusted))  # type: ignore[arg-type]


HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "fnhost.example.com, inner.proxy",
    "X-Forwarded-For": "203.0.113.7",
}


def test_forwarded_headers_from_a_trusted_proxy_are_believed() -> None:
    body = _client("testclient").get("/where", headers=HEADERS).json()
    assert body == {"url": "https://fnhost.example.com/where", "client": "203.0.113.7"}


def test_forwarded_headers_from_anyone_else_are_ignored() -> None:
    body = _client("127.0.0.1").get("/where", headers=HEADERS).json()
    assert body == {"url": "http://testserver/where", "client": "testclient"}
