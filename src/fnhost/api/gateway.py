"""The gateway to the upstream CDF.

A request under `/api/v1/projects/{project}/` for a resource fnhost does not serve itself goes
to the same path of the project's upstream CDF, with the caller's own token of a trusted OIDC
issuer and nothing else of fnhost's; status, headers and body come back as the upstream sent
them. Resources fnhost serves (the first path segment of any of its routes: functions,
sessions, files, datasets) stay wholly local, so one SDK resource never reads half from fnhost
and half from CDF.

A pure ASGI layer outside the others, so that a forwarded body is streamed as it came (gzip
stays gzip, and no body is held in memory either way), and the upstream's `x-request-id`
reaches the caller instead of one of fnhost's.
"""

import logging
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterable

import httpx
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fnhost import errors, log_context, metrics
from fnhost.api.deps import bearer_token
from fnhost.api.errors import error_response, status_of
from fnhost.services import identity
from fnhost.services.platform import Platform
from fnhost.settings import UpstreamSettings

logger = logging.getLogger(__name__)

PROJECTS = "/api/v1/projects/"
# The route forwarded requests are counted under in the HTTP requests metric.
UPSTREAM_ROUTE = PROJECTS + "{project}/* (upstream CDF)"

# Hop-by-hop headers (RFC 9110, 7.6.1) belong to one connection, not to the message.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Also not forwarded: the host (the upstream's is set), `expect` (fnhost's server already
# answered it), and credentials: only the verified bearer token goes, never a cookie or a
# (legacy CDF) API key.
_NOT_FORWARDED = _HOP_BY_HOP | {b"host", b"expect", b"authorization", b"cookie", b"api-key"}
# Not passed back: cookies of the upstream's (the caller talks to fnhost's origin), and the
# date and server headers fnhost's HTTP server sets itself.
_NOT_PASSED_BACK = _HOP_BY_HOP | {b"set-cookie", b"date", b"server"}


class _BodyTooLarge(Exception):
    pass


class _CallerGone(Exception):
    pass


def local_resources(routes: Iterable[BaseRoute]) -> frozenset[str]:
    """The resources fnhost serves itself: the first segment after the project of its routes."""
    prefix = PROJECTS + "{project}/"
    paths = (getattr(route, "path", "") for route in routes)
    return frozenset(
        path.removeprefix(prefix).partition("/")[0] for path in paths if path.startswith(prefix)
    )


def _connection_headers(raw: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Headers a `Connection` header names as hop-by-hop too."""
    return frozenset(
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.split(b",")
    )


def _kept(
    raw: Iterable[tuple[bytes, bytes]], dropped: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    raw = list(raw)
    dropped = dropped | _connection_headers(raw)
    return [(name, value) for name, value in raw if name.lower() not in dropped]


def _content_length(raw: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in raw:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class Forwarder:
    """Sends requests to upstream CDFs over pooled connections, opened on first use."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self._settings.upstream_timeout_seconds,
                    connect=self._settings.upstream_connect_timeout_seconds,
                ),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def forward(
        self, base_url: str, token: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send the request of `scope` to `base_url` with `token`, and its answer back."""
        limit = self._settings.upstream_request_max_bytes
        length = _content_length(scope["headers"])
        if length is not None and length > limit:
            raise errors.PayloadTooLarge(_too_large(limit))
        headers = _kept(scope["headers"], _NOT_FORWARDED)
        headers.append((b"authorization", b"Bearer " + token.encode()))
        has_body = length is not None or any(
            name == b"transfer-encoding" for name, _ in scope["headers"]
        )
        request = httpx.Request(
            scope["method"],
            _url(base_url, scope),
            headers=headers,
            content=_body(receive, limit) if has_body else None,
        )
        try:
            response = await self._http().send(request, stream=True)
        except _BodyTooLarge:
            raise errors.PayloadTooLarge(_too_large(limit)) from None
        except _CallerGone:
            return  # the request was not sent whole: the upstream drops it
        except httpx.TimeoutException as error:
            _log_failure(base_url, error)
            raise errors.GatewayTimeout(
                f"The upstream CDF at {base_url} did not answer within "
                f"{self._settings.upstream_timeout_seconds:g} s (FNHOST_UPSTREAM_TIMEOUT_SECONDS)"
            ) from None
        except httpx.HTTPError as error:
            _log_failure(base_url, error)
            reason = str(error) or type(error).__name__
            raise errors.BadGateway(
                f"The upstream CDF at {base_url} could not be reached: {reason}"
            ) from None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _kept(response.headers.raw, _NOT_PASSED_BACK),
                }
            )
            # Raw: a gzip answer passes as it is, for the caller to decode.
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


def _too_large(limit: int) -> str:
    return (
        f"The request body is larger than {limit} bytes, the most forwarded to the upstream CDF "
        "(FNHOST_UPSTREAM_REQUEST_MAX_BYTES)"
    )


def _log_failure(base_url: str, error: httpx.HTTPError) -> None:
    logger.warning(
        "upstream CDF failed",
        extra={"action": "upstream_failed", "upstream": base_url, "error": repr(error)},
    )


def _url(base_url: str, scope: Scope) -> str:
    """The upstream URL of the request: the same path (as sent, still percent-encoded) and
    query."""
    raw_path: bytes | None = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else urllib.parse.quote(scope["path"])
    query: bytes = scope.get("query_string", b"")
    return f"{base_url}{path}?{query.decode('latin-1')}" if query else f"{base_url}{path}"


async def _body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, cut off past `limit` bytes (a chunked body declares no
    length up front)."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _CallerGone
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise _BodyTooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class Gateway:
    """Serves the requests fnhost forwards (see the module docstring); the rest go to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        platform: Platform,
        forwarder: Forwarder,
        local: frozenset[str],
    ) -> None:
        self.app = app
        self.platform = platform
        self.forwarder = forwarder
        self.local = local

    def _forwarded_project(self, path: str) -> str | None:
        """The project of a request that goes upstream; None for fnhost's own."""
        if not path.startswith(PROJECTS):
            return None
        project, _, rest = path[len(PROJECTS) :].partition("/")
        resource = rest.partition("/")[0]
        if not project or not resource or resource in self.local:
            return None
        return project

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        project = self._forwarded_project(scope["path"]) if scope["type"] == "http" else None
        if project is None:
            await self.app(scope, receive, send)
            return
        log_context.bind(project=project)
        started = time.perf_counter()
        status = 500  # an exception escaping here is answered 500 by the error handler

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._serve(project, scope, receive, send_noting_status)
        finally:
            metrics.HTTP_REQUESTS.labels(scope["method"], UPSTREAM_ROUTE, str(status)).observe(
                time.perf_counter() - started
            )

    async def _serve(self, project: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            base_url = self.platform.settings.upstream.url_for(project)
            if base_url is None:
                raise errors.NotFound(
                    f"No upstream CDF is configured for project {project!r} "
                    "(FNHOST_UPSTREAM_URL): fnhost serves only "
                    f"{', '.join(sorted(self.local))} itself"
                )
            token = await identity.upstream_bearer(self.platform, bearer_token(Request(scope)))
            await self.forwarder.forward(base_url, token, scope, receive, send)
        except errors.FnhostError as error:
            response = error_response(status_of(error), error.message)
            response.headers["x-request-id"] = uuid.uuid4().hex
            await response(scope, receive, send)
