"""Where the Alembic migrations live (run by `Database.migrate`)."""

from pathlib import Path

from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
