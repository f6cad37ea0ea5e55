"""Pure ASGI middleware: request ids on every response, request bodies size-capped and
gunzipped, and the requests' metrics."""

import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fnhost import log_context, metrics
from fnhost.api.errors import error_response


@dataclass(frozen=True)
class BodyLimit:
    """The largest body a request may carry (after gunzip), and the setting that says so."""

    max_bytes: int
    setting: str

    def message(self) -> str:
        return f"The request body is too large; the limit is {self.max_bytes} ({self.setting})"


class RequestIdAndBody:
    """Adds `x-request-id` to every response (the SDK quotes it in its exceptions) and to every
    line logged while handling the request, refuses bodies past their limit before they are
    held in memory, decodes `Content-Encoding: gzip` request bodies (every SDK POST), and
    counts each request by method, route template (never its path: that holds ids) and status,
    with its latency.

    One layer for all of it, reading the raw header lists: every middleware layer and every
    Headers object is paid on every request.
    """

    def __init__(
        self, app: ASGIApp, *, limit: BodyLimit, limits_by_prefix: Mapping[str, BodyLimit]
    ) -> None:
        """`limit` caps every body except those under a path prefix of `limits_by_prefix`."""
        self.app = app
        self.limit = limit
        self.limits_by_prefix = limits_by_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        # Kept in the request state too: the 500 handler runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id
        # Not reset on the way out: the request's task ends with it, and the lines the outer
        # error handlers log for it keep the id.
        log_context.bind(request_id=request_id)
        header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        # An exception escaping the app is answered 500 by the error handler outside this layer.
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: a response sends its own header list, which must stay as it is.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self._handle(scope, receive, send_with_id)
        finally:
            # The router leaves the route it matched in the scope; none: no route matched.
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        encoding, length = _body_headers(scope)
        limit = self._limit_of(scope["path"])
        if encoding not in (b"", b"identity", b"gzip"):
            refusal = error_response(
                415,
                f"Content-Encoding {encoding.decode(errors='replace')!r} is not supported; "
                "send gzip or no encoding",
            )
            await refusal(scope, receive, send)
        elif length is not None and length > limit.max_bytes:
            await error_response(413, limit.message())(scope, receive, send)
        elif encoding == b"gzip":
            await self._gunzip_request(scope, receive, send, limit)
        elif length is None:  # chunked: counted as it arrives
            await self.app(scope, _capped(receive, limit), send)
        else:  # the server reads no more than Content-Length, checked above
            await self.app(scope, receive, send)

    def _limit_of(self, path: str) -> BodyLimit:
        for prefix, limit in self.limits_by_prefix.items():
            if path.startswith(prefix):
                return limit
        return self.limit

    async def _gunzip_request(
        self, scope: Scope, receive: Receive, send: Send, limit: BodyLimit
    ) -> None:
        compressed = bytearray()
        while True:
            message = await receive()
            compressed += message.get("body", b"")
            if len(compressed) > limit.max_bytes:
                await error_response(413, limit.message())(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        try:
            body = _gunzip(bytes(compressed), limit.max_bytes)
        except (zlib.error, EOFError, ValueError) as error:
            response = error_response(400, f"Request body is not valid gzip: {error}")
            await response(scope, receive, send)
            return
        except OverflowError:
            await error_response(413, limit.message())(scope, receive, send)
            return
        raw = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
        ]
        raw.append((b"content-length", str(len(body)).encode()))
        # In place: the request's own scope, where the router leaves the route it matched.
        scope["headers"] = raw
        sent = False

        async def receive_body() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, receive_body, send)


def _capped(receive: Receive, limit: BodyLimit) -> Receive:
    """`receive`, raising a 413 (in the CDF shape, through the app's handlers) once the body
    passes `limit`."""
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit.max_bytes:
            raise HTTPException(413, limit.message())
        return message

    return receive_capped


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    if not data:
        return b""  # a GET with Content-Encoding: gzip and no body (cognite-toolkit)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    body = decoder.decompress(data, max_bytes + 1)
    if len(body) > max_bytes or decoder.unconsumed_tail:
        raise OverflowError
    if not decoder.eof:
        raise ValueError("truncated gzip stream")
    return body


def _body_headers(scope: Scope) -> tuple[bytes, int | None]:
    """The first Content-Encoding (lower case; b"" if none) and the Content-Length (None if
    absent or not a number: the HTTP server then refuses the request or reads it chunked)."""
    encoding: bytes | None = None
    length: int | None = None
    for name, value in scope["headers"]:
        if name == b"content-encoding" and encoding is None:
            encoding = value.strip().lower()
        elif name == b"content-length" and length is None and value.isdigit():
            length = int(value)
    return encoding or b"", length
