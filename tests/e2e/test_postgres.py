"""The same server on PostgreSQL (the scaled-out deployment's database): the SDK workflow,
and two `fnhost serve` replicas on one database firing a schedule's tick once."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.test_sdk_schedules import assert_two_servers_fire_each_tick_once
from tests.e2e.test_sdk_versions import assert_workflow, run_workflow
from tests.servers import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ADMIN_URL = os.environ.get("FNHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of this test's own on the local PostgreSQL server."""
    name = f"fnhost_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {error}")
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def test_sdk_workflow_on_postgres(
    make_server: Callable[..., RunningServer], postgres_url: str
) -> None:
    server = make_server({"FNHOST_DATABASE_URL": postgres_url})
    assert_workflow(run_workflow(sys.executable, server, "on-postgres"))


def test_two_replicas_on_postgres_fire_a_tick_once(
    tmp_path: Path, environments_dir: Path, postgres_url: str
) -> None:
    assert_two_servers_fire_each_tick_once(
        tmp_path / "data", environments_dir, env={"FNHOST_DATABASE_URL": postgres_url}
    )
