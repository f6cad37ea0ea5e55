"""Fresh databases on the local PostgreSQL server (127.0.0.1:5432, trust), one per test or module:
skipped where it is missing, except on CI, where it must be there."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import asyncpg
import pytest

ADMIN_URL = os.environ.get("FNHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _administer(statement: str) -> None:
    """Run `statement` as the administrator, also from inside a running event loop (an async
    fixture): on a loop of its own, in a thread."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _admin(statement)).result()


async def query(url: str, statement: str) -> list[asyncpg.Record]:
    """Rows of `statement` on the database at `url` (a SQLAlchemy URL)."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
    try:
        return list(await connection.fetch(statement))
    finally:
        await connection.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A database of its own, as a SQLAlchemy URL (postgresql+asyncpg://), dropped after."""
    name = f"fnhost_{uuid.uuid4().hex[:12]}"
    try:
        _administer(f"CREATE DATABASE {name}")
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {error}")
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        _administer(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
