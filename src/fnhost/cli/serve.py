"""`fnhost serve`: the API, builder, dispatcher and scheduler in one process."""

import logging
from typing import Annotated

import typer
import uvicorn
import uvloop

from fnhost import isolation
from fnhost.cli import listen, server_logs
from fnhost.cli.platform import DataDirOption, load_settings
from fnhost.cli.server import embedded
from fnhost.settings import Settings

logger = logging.getLogger(__name__)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: 8000)")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the server: API, builder, dispatcher and scheduler in one process."""
    settings = load_settings(data_dir, host=host, port=port)
    server_logs.configure(settings.logs.log_format)
    # uvloop (from uvicorn[standard]): the server's own loop, since uvicorn's `loop` option only
    # applies when uvicorn starts the loop itself; it serves a request in less CPU than asyncio's.
    try:
        uvloop.run(_serve(settings))
    except isolation.SandboxUnavailable as error:
        typer.secho(f"fnhost serve cannot start: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None


async def _serve(settings: Settings) -> None:
    async with embedded(settings) as server:
        logger.info(
            "admin token: %s",
            f"in {server.admin_token_file}" if server.admin_token_file else "FNHOST_ADMIN_TOKEN",
            extra={"action": "admin_token"},
        )
        logger.info("data directory: %s", settings.server.data_dir, extra={"action": "data_dir"})
        warning = listen.plain_http_warning(settings.server)
        if warning:
            logger.warning(warning, extra={"action": "plain_http_exposed"})
            # Also on its own, whatever the log format: this one must not be missed.
            typer.secho(f"WARNING: {warning}", err=True, fg=typer.colors.RED, bold=True)
        await uvicorn.Server(listen.config(server.app, settings.server)).serve()
