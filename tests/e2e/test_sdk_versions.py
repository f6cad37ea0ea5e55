"""The same workflow through older major versions of the real cognite-sdk, each in a venv of
its own that this test builds with uv."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FUNCTIONS, venv_with
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

WORKFLOW = Path(__file__).parent / "sdk_workflow.py"
VERSIONS = {"v7": "cognite-sdk==7.94.2", "v6": "cognite-sdk==6.39.6"}


@pytest.fixture(scope="session")
def sdk_pythons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sdks")
    return {
        name: venv_with(root / name, requirement) / "python"
        for name, requirement in VERSIONS.items()
    }


def run_workflow(python: Path | str, server: RunningServer, project: str) -> dict[str, Any]:
    """Run sdk_workflow.py with `python` against `server`; its observations."""
    result = subprocess.run(
        [str(python), str(WORKFLOW), server.url, server.token, project, str(FUNCTIONS)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def assert_workflow(seen: dict[str, Any]) -> None:
    """What every SDK version must have observed."""
    assert seen["created_status"] == "Queued"
    assert seen["status"] == "Ready"
    assert seen["call_status"] == "Completed"
    assert seen["response_data"] == {"n": 5}
    assert seen["response_secrets"] == {"k": "v"}
    assert seen["response_env"] == "hey"
    assert "got {'n': 5}" in seen["logs"]
    assert seen["calls_listed"] == 3
    assert seen["calls_completed"] == 2
    assert seen["retrieved_call_status"] == "Completed"
    assert seen["unknown_function"] is True
    assert seen["unknown_call"] is True
    assert seen["duplicate"] == [{"externalId": "wf"}]
    assert seen["duplicate_status"] == 409
    assert seen["metadata_after_duplicate"] == {"m": "1"}
    assert "py311" in seen["limits_runtimes"]
    assert seen["status_endpoint"] == "activated"
    assert seen["activate"] == "activated"
    assert seen["listed"] == ["wf"]
    assert seen["after_delete"] is True
    assert seen["delete_again"] == "not found"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_workflow_with_older_sdk(
    version: str, sdk_pythons: dict[str, Path], server: RunningServer
) -> None:
    assert_workflow(run_workflow(sdk_pythons[version], server, f"{version}-{uuid.uuid4().hex[:8]}"))
