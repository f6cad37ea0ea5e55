"""The Functions API of one project, over HTTP: JSON in, JSON out, CDF errors as ApiError."""

import json
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

import fnhost
from fnhost.cli.remote.connection import Connection
from fnhost.cli.remote.errors import CliError

TIMEOUT_SECONDS = 60.0
UPLOAD_TIMEOUT_SECONDS = 600.0
PAGE_SIZE = 1000


class ApiError(CliError):
    """The server refused a request; the message is its own (the CDF error's `message`)."""

    def __init__(self, status: int, message: str, request_id: str | None) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        suffix = f", request id {request_id}" if request_id else ""
        super().__init__(f"{message} (HTTP {status}{suffix})")


class Api:
    """Requests to `/api/v1/projects/{project}` of the connection's server, with its token."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._http = httpx.Client(
            base_url=f"{connection.url}/api/v1/projects/{quote(connection.project, safe='')}",
            headers={
                "Authorization": f"Bearer {connection.token}",
                "x-cdp-app": "fnhost-cli",
                "user-agent": f"fnhost-cli/{fnhost.__version__}",
            },
            timeout=TIMEOUT_SECONDS,
        )

    def __enter__(self) -> "Api":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def get(self, path: str) -> Any:
        return self._send(self._http.build_request("GET", path))

    def post(self, path: str, body: Any = None, **params: str) -> Any:
        return self._send(self._http.build_request("POST", path, json=body, params=params))

    def list_all(self, path: str, body: dict[str, Any]) -> Iterator[Any]:
        """Every item of a list endpoint, following `nextCursor`."""
        cursor = None
        while True:
            page = self.post(path, {**body, "limit": PAGE_SIZE, "cursor": cursor})
            yield from page["items"]
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def upload(self, upload_url: str, content: bytes) -> None:
        """PUT a file's bytes to the URL `POST /files` gave. The URL is the credential: the
        token is not sent along (the URL may name another host)."""
        request = self._http.build_request(
            "PUT",
            self._http.base_url.join(upload_url),
            content=content,
            timeout=UPLOAD_TIMEOUT_SECONDS,
        )
        del request.headers["Authorization"]
        self._send(request)

    def _send(self, request: httpx.Request) -> Any:
        try:
            response = self._http.send(request)
        except httpx.HTTPError as error:
            raise CliError(
                f"Cannot reach {self.connection.url}: {error or type(error).__name__}. Is the "
                "server running there? (--url or FNHOST_URL)"
            ) from None
        if not response.is_success:
            raise ApiError(
                response.status_code, _message(response), response.headers.get("x-request-id")
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{request.url} answered with something else than JSON: is {self.connection.url} "
                "an fnhost server?"
            ) from None


def _message(response: httpx.Response) -> str:
    """The CDF error's message (with the ids it names as missing or duplicated), else the
    start of whatever the server (or a proxy) sent."""
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:500] or response.reason_phrase
    for kind in ("missing", "duplicated"):
        if error.get(kind):
            message += f"; {kind}: " + ", ".join(json.dumps(item) for item in error[kind])
    return message
