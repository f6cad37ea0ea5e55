"""The application factory."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.responses import RedirectResponse

import fnhost
from fnhost.api import errors, gateway, openapi
from fnhost.api.middleware import BodyLimit, RequestIdAndBody
from fnhost.api.routes import (
    calls,
    datasets,
    files,
    functions,
    identity,
    metrics,
    oauth,
    schedules,
    sessions,
)
from fnhost.console import urls as console_urls
from fnhost.console.app import create_console
from fnhost.services.platform import Platform

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


class _Api(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, completed with what the routes do by hand."""
        if self.openapi_schema is None:
            self.openapi_schema = openapi.complete(super().openapi())
        return self.openapi_schema


def create_app(platform: Platform, *, background: Sequence[BackgroundTask] = ()) -> FastAPI:
    """The HTTP API over `platform`; `background` tasks run for the app's lifetime."""
    forwarder = gateway.Forwarder(platform.settings.upstream)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(task()) for task in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await forwarder.aclose()

    app = _Api(
        title="fnhost",
        version=fnhost.__version__,
        description="Self-hosted Python functions with the CDF Functions API.",
        lifespan=lifespan,
        # fnhost sets up no OpenTelemetry: off, FastAPI skips asking the global providers
        # whether it is on, on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.platform = platform
    errors.install(app)
    # The routers' routes go straight into the app's route list, ahead of FastAPI's docs routes:
    # an included router is matched as a nested router on every request (and matched twice
    # when it wins), which cost a request more than the route lookup itself. The routes
    # already carry their routers' prefixes, and the routers set nothing else to inherit.
    # The first route that matches wins, so the order is the hottest first where paths cannot
    # collide. Schedules stays before functions (its GET /functions/{functionId} would take
    # /functions/schedules) and before calls (whose GET /functions/{functionId}/calls/{callId}
    # would take /functions/schedules/calls/input_data).
    app.router.routes[:0] = [
        route
        for router in (
            schedules.router,
            calls.router,
            sessions.router,
            functions.router,
            files.router,
            datasets.router,
            identity.router,
            oauth.router,
            metrics.router,
        )
        for route in router.routes
    ]
    # The web console: an application of its own (HTML pages and their errors, not the API's
    # JSON), after every API route.
    app.mount(console_urls.PREFIX, create_console(platform, status_of=errors.status_of))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(console_urls.home(), status_code=307)

    settings = platform.settings
    app.add_middleware(
        RequestIdAndBody,
        limit=BodyLimit(settings.server.request_body_max_bytes, "FNHOST_REQUEST_BODY_MAX_BYTES"),
        limits_by_prefix={
            files.UPLOAD_PREFIX: BodyLimit(
                settings.builds.upload_max_bytes, "FNHOST_UPLOAD_MAX_BYTES"
            )
        },
    )
    # Added last, so outermost: what it forwards meets none of the layers above.
    app.add_middleware(
        gateway.Gateway,
        platform=platform,
        forwarder=forwarder,
        local=gateway.local_resources(app.routes),
    )
    return app


def create_metrics_app(platform: Platform) -> FastAPI:
    """Only GET /metrics (authenticated as on the API's port), for the metrics listener of a
    process (FNHOST_METRICS_PORT)."""
    app = FastAPI(
        title="fnhost metrics",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.platform = platform
    errors.install(app)
    app.router.routes[:0] = metrics.router.routes
    return app
