"""`fnhost`: serve, and manage what a server holds."""

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from fnhost.cli import doctor
from fnhost.cli.server import embedded
from fnhost.settings import Settings

app = typer.Typer(help="fnhost: self-hosted Python functions with the CDF Functions API.")
app.command()(doctor.doctor)
console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory [default: FNHOST_DATA_DIR or ~/.local/share/fnhost]"
    ),
]


@app.callback()
def main() -> None:
    """fnhost: self-hosted Python functions with the CDF Functions API."""


def load_settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


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
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    async with embedded(settings) as server:
        if server.admin_token_file:
            console.print(f"Admin token: in [bold]{server.admin_token_file}[/bold]")
        else:
            console.print("Admin token: from FNHOST_ADMIN_TOKEN")
        console.print(f"Data directory: {settings.data_dir}")
        config = uvicorn.Config(
            server.app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=False,
            lifespan="on",
        )
        await uvicorn.Server(config).serve()
