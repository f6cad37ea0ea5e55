"""Open the platform of a data directory: what `serve` and the admin commands share."""

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from fnhost.auth import oidc_config
from fnhost.auth.oidc import OidcTimings, OidcVerifier
from fnhost.auth.secrets_box import SecretsBox
from fnhost.blobs import Blobs, FileBlobs
from fnhost.sandbox import Isolation
from fnhost.services.notifier import Notifier
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store.blobs import DatabaseBlobs
from fnhost.store.engine import Database

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory [default: FNHOST_DATA_DIR or ~/.local/share/fnhost]"
    ),
]


def load_settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    """The environment's settings with these overrides; settings that cannot be used stop the
    command, saying why (exit code 2)."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        return Settings.load(**values)
    except ValidationError as error:
        for problem in error.errors():
            # A field's problem names its variable; the settings' own checks name theirs.
            where = f"FNHOST_{str(problem['loc'][-1]).upper()}: " if problem["loc"] else ""
            message = problem["msg"].removeprefix("Value error, ")
            typer.secho(f"fnhost: {where}{message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    """The verifier of the configured OIDC issuers, or None when none are configured."""
    if settings.identity.oidc_config is None:
        return None
    return OidcVerifier(
        oidc_config.load(settings.identity.oidc_config),
        OidcTimings(
            jwks_max_age_seconds=settings.identity.oidc_jwks_max_age_seconds,
            jwks_min_refresh_seconds=settings.identity.oidc_jwks_min_refresh_seconds,
            leeway_seconds=settings.identity.oidc_leeway_seconds,
            http_timeout_seconds=settings.identity.oidc_http_timeout_seconds,
        ),
    )


def blobs_of(db: Database, settings: Settings) -> Blobs:
    """Where blobs live: in the database where it is shared (replicas and dispatchers may each
    have a disk of their own), else in the data directory."""
    layout = settings.layout
    on_disk = FileBlobs(layout.blobs, layout.upload_parts)
    if db.dialect == "postgresql":
        return DatabaseBlobs(db, earlier=on_disk)
    return on_disk


@asynccontextmanager
async def open_platform(
    settings: Settings,
    *,
    runtimes: Mapping[str, str] | None = None,
    isolation: Isolation | None = None,
) -> AsyncIterator[Platform]:
    """The data directory (created 0700), its migrated database, keys and blobs."""
    layout = settings.layout
    layout.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(layout.root, 0o700)
    verifier = oidc_verifier(settings)
    db = Database(
        settings.database_url,
        sqlite_lock_wait_seconds=settings.server.sqlite_lock_wait_seconds,
        pool_size=settings.server.database_pool_size,
        ping_idle_seconds=settings.server.database_ping_idle_seconds,
    )
    try:
        await db.migrate()
        yield Platform(
            settings=settings,
            db=db,
            blobs=blobs_of(db, settings),
            secrets_box=SecretsBox.from_settings(settings.identity.secret_key, layout.secret_key),
            runtimes=runtimes or {},
            oidc=verifier,
            isolation=isolation,
            notifier=Notifier(shared=db.dialect == "postgresql"),
        )
    finally:
        await db.dispose()
