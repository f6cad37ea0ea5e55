"""The metrics listener (FNHOST_METRICS_PORT): /metrics on a port of its own, what the API's
/metrics serves. It is how a dispatcher, which has no API port, is scraped."""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from fnhost.api.app import create_metrics_app
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


class _Quiet(uvicorn.Server):
    """A uvicorn server beside the process's own signal handling (it captures no signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_metrics(platform: Platform) -> None:
    """Serve /metrics until cancelled, when FNHOST_METRICS_PORT is set (else return at once)."""
    monitoring = platform.settings.monitoring
    if monitoring.metrics_port is None:
        return
    server = _Quiet(
        uvicorn.Config(
            create_metrics_app(platform),
            host=monitoring.metrics_host,
            port=monitoring.metrics_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    logger.info(
        "metrics on http://%s:%d/metrics",
        monitoring.metrics_host,
        monitoring.metrics_port,
        extra={"action": "metrics_listening"},
    )
    try:
        await asyncio.shield(serving)
    finally:
        server.should_exit = True
        await serving
