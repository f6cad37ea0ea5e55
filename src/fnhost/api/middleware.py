"""Pure ASGI middleware: request ids on every response, gunzipped request bodies, and the
requests' metrics."""

import time
import uuid
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fnhost import log_context, metrics
from fnhost.api.errors import error_response


class RequestIdAndGunzip:
    """Adds `x-request-id` to every response (the SDK quotes it in its exceptions) and to every
    line logged while handling the request, decodes `Content-Encoding: gzip` request bodies
    (every SDK POST) with a size cap, and counts each request by method, route template (never
    its path: that holds ids) and status, with its latency.

    One layer for all three, reading the raw header lists: every middleware layer and every
    Headers object is paid on every request.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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
            if _gzipped(scope):
                await self._gunzip_request(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            # The router leaves the route it matched in the scope; none: no route matched.
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )

    async def _gunzip_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        compressed = bytearray()
        while True:
            message = await receive()
            compressed += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            if len(compressed) > self.max_bytes:
                raise OverflowError
            body = self._gunzip(bytes(compressed))
        except (zlib.error, EOFError, ValueError) as error:
            response = error_response(400, f"Request body is not valid gzip: {error}")
            await response(scope, receive, send)
            return
        except OverflowError:
            response = error_response(
                413,
                f"Request body is larger than {self.max_bytes} bytes once decompressed "
                "(FNHOST_REQUEST_BODY_MAX_BYTES)",
            )
            await response(scope, receive, send)
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

    def _gunzip(self, data: bytes) -> bytes:
        if not data:
            return b""  # a GET with Content-Encoding: gzip and no body (cognite-toolkit)
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        body = decoder.decompress(data, self.max_bytes + 1)
        if len(body) > self.max_bytes or decoder.unconsumed_tail:
            raise OverflowError
        if not decoder.eof:
            raise ValueError("truncated gzip stream")
        return body


def _gzipped(scope: Scope) -> bool:
    """Whether the first Content-Encoding header is gzip (ASGI header names are lower case)."""
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            return bool(value.lower() == b"gzip")
    return False
