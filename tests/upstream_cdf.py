"""A stand-in for an upstream CDF's data API on 127.0.0.1: it records every request it gets and
answers CDF-shaped JSON for time series (create, list) and datapoints (insert), 403 on
`timeseries/byids`, and 404 on anything else."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.servers import stand_in

FORBIDDEN = "timeseries/byids"


@dataclass(frozen=True)
class Seen:
    """A request as the upstream got it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]  # names lower case, in order, repeats kept
    body: bytes  # as sent (gzip stays gzip)

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def json(self) -> Any:
        raw = (
            gzip.decompress(self.body) if self.header("content-encoding") == ["gzip"] else self.body
        )
        return json.loads(raw) if raw else None


@dataclass
class UpstreamCdf:
    requests: list[Seen] = field(default_factory=list)
    time_series: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    datapoints: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        """The status and JSON body of the answer to `seen` (a path of /api/v1/projects/P/)."""
        project, _, resource = seen.path.removeprefix("/api/v1/projects/").partition("/")
        key = (seen.method, resource)
        if resource == FORBIDDEN:
            return 403, {"error": {"code": 403, "message": "Resource not available: no access"}}
        if key == ("POST", "timeseries"):
            created = [self._store(project, item) for item in seen.json()["items"]]
            return 201, {"items": created}
        if key in (("GET", "timeseries"), ("POST", "timeseries/list")):
            return 200, {"items": self.time_series[project]}
        if key == ("POST", "timeseries/data"):
            self.datapoints += seen.json()["items"]
            return 200, {}
        return 404, {"error": {"code": 404, "message": f"No such path: {seen.path}"}}

    def _store(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time() * 1000)
        stored = {
            "id": sum(len(items) for items in self.time_series.values()) + 1,
            "isString": False,
            "isStep": False,
            "metadata": {},
            **item,
            "createdTime": now,
            "lastUpdatedTime": now,
        }
        self.time_series[project].append(stored)
        return stored

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = _body(handler)
        if body is None:
            handler.close_connection = True
            return  # the request never arrived whole: a server acts on none of it
        parts = urlsplit(handler.path)
        seen = Seen(
            method=method,
            path=parts.path,
            query=parts.query,
            headers=[(name.lower(), value) for name, value in handler.headers.items()],
            body=body,
        )
        with self._lock:
            self.requests.append(seen)
            status, body = self.answer(seen)
            request_id = f"upstream-{len(self.requests)}"
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("X-Request-Id", request_id)
        if "gzip" in (handler.headers.get("Accept-Encoding") or ""):
            payload = gzip.compress(payload)
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _body(handler: BaseHTTPRequestHandler) -> bytes | None:
    """The request body, by Content-Length or chunked; None if the connection ends before it."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        return body if len(body) == length else None
    chunks = []
    while True:
        size_line = handler.rfile.readline()
        if not size_line.strip():
            return None
        size = int(size_line.split(b";")[0], 16)
        chunk = handler.rfile.read(size + 2)  # and its CRLF
        if len(chunk) != size + 2:
            return None
        if size == 0:
            return b"".join(chunks)
        chunks.append(chunk[:-2])


def _handler(upstream: UpstreamCdf) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a CDF cluster

        def do_GET(self) -> None:
            upstream.serve(self, "GET")

        def do_POST(self) -> None:
            upstream.serve(self, "POST")

        def log_message(self, *_args: Any) -> None:
            return None

    return Handler


@contextmanager
def running(upstream: UpstreamCdf) -> Iterator[UpstreamCdf]:
    """Serve `upstream` on a free port while in the block."""
    with stand_in(_handler(upstream)) as upstream.url:
        yield upstream
