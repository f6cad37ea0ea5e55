"""Every error leaves in CDF's shape: {"error": {"code", "message", "missing"?, "duplicated"?}}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from fnhost import errors
from fnhost.api.responses import WireJSON
from fnhost.schemas.common import describe_errors

logger = logging.getLogger(__name__)

STATUS: dict[type[errors.FnhostError], int] = {
    errors.InvalidInput: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.PayloadTooLarge: 413,
    errors.TooManyRequests: 429,
    errors.BadGateway: 502,
    errors.GatewayTimeout: 504,
}
# How long a refused caller should wait before trying again (clients such as the SDK back off
# on their own; this is for the others).
RETRY_AFTER_SECONDS = 1


def error_response(
    status: int,
    message: str,
    *,
    missing: list[dict[str, Any]] | None = None,
    duplicated: list[dict[str, Any]] | None = None,
) -> WireJSON:
    body: dict[str, Any] = {"code": status, "message": message}
    if missing:
        body["missing"] = missing
    if duplicated:
        body["duplicated"] = duplicated
    return WireJSON({"error": body}, status_code=status)


def status_of(error: errors.FnhostError) -> int:
    if error.missing:
        # CDF answers unknown ids with 400 + missing; the SDK turns that into NotFound/None.
        return 400
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the CDF error shape."""

    @app.exception_handler(errors.FnhostError)
    async def _domain(_request: Request, error: errors.FnhostError) -> WireJSON:
        response = error_response(
            status_of(error), error.message, missing=error.missing, duplicated=error.duplicated
        )
        if isinstance(error, errors.TooManyRequests):
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> WireJSON:
        return error_response(400, "Invalid request: " + describe_errors(error.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> WireJSON:
        if error.status_code in (404, 405) and error.detail in ("Not Found", "Method Not Allowed"):
            # No route: say so, rather than a bare "Not Found" that reads like a missing item.
            return error_response(
                error.status_code,
                f"{request.method} {request.url.path} is not part of the API fnhost serves "
                "(the Functions API and the files, sessions and data sets requests it needs)",
            )
        return error_response(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> WireJSON:
        logger.exception(
            "unhandled error", extra={"action": "unhandled_error", "path": request.url.path}
        )
        response = error_response(500, "Internal server error; the server log has the details")
        response.headers["x-request-id"] = getattr(request.state, "request_id", "")
        return response
