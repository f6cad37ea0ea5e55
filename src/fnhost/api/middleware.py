"""Pure ASGI middleware: request ids on every response, and gunzipped request bodies."""

import uuid
import zlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fnhost.api.errors import error_response


class RequestId:
    """Adds `x-request-id` to every response (the SDK quotes it in its exceptions)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        # Kept in the request state too: the 500 handler runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


class GunzipRequests:
    """Decodes `Content-Encoding: gzip` request bodies (every SDK POST), with a size cap."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("content-encoding", "").lower() != "gzip":
            await self.app(scope, receive, send)
            return
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
        scope = {**scope, "headers": raw}
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
