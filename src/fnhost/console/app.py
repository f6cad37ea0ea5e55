"""The console as an application of its own, mounted at /console by the API's app factory: its
own routes, static files, error pages (HTML, not the API's JSON) and security headers."""

import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from fnhost import errors
from fnhost.console import templating, urls
from fnhost.console.auth import SignInRequired
from fnhost.console.pages import access, calls, deploy, functions, overview, runs, schedules
from fnhost.console.security import SecurityHeaders
from fnhost.schemas.common import describe_errors
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
StatusOf = Callable[[errors.FnhostError], int]


def _wants_page(request: Request) -> bool:
    """A browser navigating (not a live stream nor a script asking for data)."""
    accept = request.headers.get("accept", "")
    return request.method in ("GET", "HEAD") and "text/html" in accept


def _error_page(request: Request, status: int, message: str) -> Response:
    if not _wants_page(request) and request.method in ("GET", "HEAD"):
        return PlainTextResponse(message, status_code=status)
    return templating.render("error.html", status_code=status, status=status, message=message)


def create_console(platform: Platform, *, status_of: StatusOf) -> FastAPI:
    """The console over `platform`; `status_of` maps domain errors to HTTP statuses as the
    API does."""
    app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.platform = platform
    app.state.status_of = status_of
    for module in (access, overview, functions, calls, schedules, deploy, runs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _error: SignInRequired) -> Response:
        if _wants_page(request):
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(urls.sign_in(path), status_code=303)
        return _error_page(request, 401, "Sign in to the console first")

    @app.exception_handler(errors.FnhostError)
    async def _domain(request: Request, error: errors.FnhostError) -> Response:
        # A page not found is a 404 to a browser (the API's 400 + `missing` is CDF's way).
        status = 404 if isinstance(error, errors.NotFound) else status_of(error)
        return _error_page(request, status, error.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        return _error_page(request, 400, "Invalid request: " + describe_errors(error.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        return _error_page(request, error.status_code, str(error.detail))

    return app
