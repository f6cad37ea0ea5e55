"""The same server on PostgreSQL (the scaled-out deployment's database): the SDK workflow. Two
replicas on one PostgreSQL database firing a tick once: test_sdk_schedules.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

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
