"""The same server on PostgreSQL (the scaled-out deployment's database): the SDK workflow,
and two `fnhost serve` replicas on one database firing a schedule's tick once."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.test_sdk_schedules import assert_two_servers_fire_each_tick_once
from tests.e2e.test_sdk_versions import assert_workflow, run_workflow
from tests.postgres import fresh_database
from tests.servers import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of this test's own on the local PostgreSQL server."""
    with fresh_database() as url:
        yield url


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
