"""How `fnhost serve` listens: HTTPS when given a certificate, forwarded headers believed from
trusted proxies only, and a loud warning when tokens would cross a network in clear text."""

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from fnhost.settings import ServerSettings, is_loopback


class ForwardedHeaders(ProxyHeadersMiddleware):
    """uvicorn's X-Forwarded-Proto and X-Forwarded-For handling, plus X-Forwarded-Host: all
    three only from a trusted proxy, so that the URLs the server hands out (upload URLs,
    download links) name the address and scheme the client used."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in self.trusted_hosts:
            forwarded = _first(scope["headers"], b"x-forwarded-host")
            if forwarded:
                headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
                scope = {**scope, "headers": [*headers, (b"host", forwarded)]}
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]


def _first(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The client-side value of a forwarded header (the first of a proxy chain's list)."""
    for key, value in headers:
        if key == name:
            return value.split(b",")[0].strip() or None
    return None


def config(app: ASGIApp, server: ServerSettings) -> uvicorn.Config:
    """uvicorn's configuration for `app`: the address, TLS, and forwarded headers."""
    return uvicorn.Config(
        ForwardedHeaders(app, trusted_hosts=server.forwarded_allow_ips),  # type: ignore[arg-type]
        host=server.host,
        port=server.port,
        ssl_certfile=server.tls_cert_file,
        ssl_keyfile=server.tls_key_file,
        # ForwardedHeaders does uvicorn's part and X-Forwarded-Host.
        proxy_headers=False,
        log_level="info",
        # uvicorn's lines go through the root logger, in the format of every other line.
        log_config=None,
        access_log=False,
        lifespan="on",
        # Open live views of the console would otherwise hold a stop up indefinitely.
        timeout_graceful_shutdown=server.shutdown_grace_seconds,
    )


def plain_http_warning(server: ServerSettings) -> str | None:
    """What to say when the server listens beyond this machine without TLS; None when not."""
    if server.tls or is_loopback(server.host):
        return None
    return (
        f"fnhost listens on {server.host}:{server.port} over plain HTTP: bearer tokens and "
        "client secrets cross the network in clear text. Serve HTTPS (FNHOST_TLS_CERT_FILE "
        "and FNHOST_TLS_KEY_FILE), or listen on 127.0.0.1 behind a TLS-terminating proxy "
        "(README: Exposing fnhost)."
    )
