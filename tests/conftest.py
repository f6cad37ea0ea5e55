"""Shared fixtures: real servers, SDK clients, sample functions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uv
from cognite.client import CogniteClient
from cognite.client.data_classes import Function

from tests.servers import RunningServer, wait_until

FUNCTIONS = Path(__file__).parent / "functions"

# Ray reads it once, when imported: without it, a process joining a Ray cluster bound to the
# loopback (tests/ray_cluster.py) resolves 127.0.0.1 to the machine's own address and cannot
# reach the cluster. Set before any test module imports Ray, and inherited by the processes
# the tests start.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
# Nothing leaves this machine: no usage reports from the test clusters.
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


@pytest.fixture(scope="session")
def environments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for every server of the run, as on a real machine."""
    return tmp_path_factory.mktemp("environments")


@pytest.fixture
def make_server(
    tmp_path: Path, environments_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RunningServer]]:
    """Start servers of one's own (for restarts, settings); all are stopped at the end."""
    started: list[RunningServer] = []

    def make(env: dict[str, str] | None = None, start: bool = True) -> RunningServer:
        server = RunningServer(
            data_dir=tmp_path / f"data{len(started)}",
            environments_dir=environments_dir,
            env=env or {},
        )
        started.append(server)
        return server.start() if start else server

    yield make
    for server in started:
        if server.process is not None:
            server.stop()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(server.logs())  # noqa: T201 - shown only for a failed test


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[RunningServer]:
    """One server shared by the tests that need no settings of their own."""
    running = RunningServer(
        data_dir=tmp_path_factory.mktemp("shared") / "data",
        environments_dir=environments_dir,
        env={"FNHOST_CALL_TIMEOUT_SECONDS": "5"},
    ).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> CogniteClient:
    """An SDK client on the shared server, in a project of this test's own."""
    return server.client(f"test-{uuid.uuid4().hex[:10]}")


def venv_with(venv: Path, requirement: str) -> Path:
    """A virtual environment at `venv` (this interpreter's version) with `requirement`
    installed by uv; its bin directory."""
    subprocess.run(
        [uv.find_uv_bin(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv.find_uv_bin(), "pip", "install", "--quiet", "--python", str(python), requirement],
        check=True,
    )
    return venv / "bin"


def require_sandbox() -> None:
    """Skip where bubblewrap or root is missing; on CI, fail instead."""
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI must test the sandbox: run as root with bubblewrap installed")
        pytest.skip("needs bubblewrap and root")


def deploy(client: CogniteClient, folder: str, **kwargs: object) -> Function:
    """Create a function from tests/functions/<folder> and wait until it is Ready or Failed."""
    function = client.functions.create(
        name=kwargs.pop("name", folder),
        folder=str(FUNCTIONS / folder),
        **kwargs,  # type: ignore[arg-type]
    )
    return wait_until(
        lambda: (
            (f := client.functions.retrieve(id=function.id))
            and f.status in ("Ready", "Failed")
            and f
        ),
        timeout=120,
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# Tests of an xdist_group that pytest-xdist could not keep on one worker.
UNGROUPED = pytest.StashKey[set[str]]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note the tests that `--dist loadgroup` cannot keep with their xdist_group.

    pytest-xdist groups tests by suffixing their node ids on each worker; where a pytest
    release keeps ids elsewhere (9.2 with xdist 3.8) the suffix is silently lost, and every
    worker starts its own Ray cluster at once: a slow suite that fails under its own load.
    """
    if getattr(config.option, "loadgroup", False):
        config.stash[UNGROUPED] = {
            item.nodeid
            for item in items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
        }


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail, before their fixtures start anything, the tests pytest-xdist could not group."""
    if item.nodeid in item.config.stash.get(UNGROUPED, set()):
        pytest.fail(
            "pytest-xdist could not keep this test with its xdist_group: this pytest and "
            "pytest-xdist do not work together (see pyproject.toml)",
            pytrace=False,
        )
