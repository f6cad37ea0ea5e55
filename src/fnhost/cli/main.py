"""`fnhost`: serve, and manage what a server holds."""

import logging
from typing import Annotated

import typer
import uvicorn
import uvloop
from rich.console import Console

from fnhost.cli import clients, doctor, tokens
from fnhost.cli.platform import DataDirOption, load_settings
from fnhost.cli.server import embedded
from fnhost.settings import Settings

app = typer.Typer(help="fnhost: self-hosted Python functions with the CDF Functions API.")
app.add_typer(tokens.app, name="token")
app.add_typer(clients.app, name="client")
app.command()(doctor.doctor)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """fnhost: self-hosted Python functions with the CDF Functions API."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the server: API, builder, dispatcher and scheduler in one process."""
    settings = load_settings(data_dir, host=host, port=port)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # uvloop (from uvicorn[standard]): the server's own loop, since uvicorn's `loop` option only
    # applies when uvicorn starts the loop itself; it serves a request in less CPU than asyncio's.
    uvloop.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    async with embedded(settings) as server:
        if server.admin_token_file:
            console.print(f"Admin token: in [bold]{server.admin_token_file}[/bold]")
        else:
            console.print("Admin token: from FNHOST_ADMIN_TOKEN")
        console.print(f"Data directory: {settings.server.data_dir}")
        config = uvicorn.Config(
            server.app,
            host=settings.server.host,
            port=settings.server.port,
            log_level="info",
            access_log=False,
            lifespan="on",
            # Open live views of the console would otherwise hold a stop up indefinitely.
            timeout_graceful_shutdown=settings.server.shutdown_grace_seconds,
        )
        await uvicorn.Server(config).serve()
