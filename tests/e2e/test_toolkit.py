"""cognite-toolkit, unmodified, deploys a module (data set, function, schedule) to fnhost,
finds nothing to change on a second deploy, and runs the function live."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import venv_with
from tests.e2e.test_identity import fnhost
from tests.servers import RunningServer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOOLKIT = "cognite-toolkit==0.9.28"
PROJECT_TEMPLATE = Path(__file__).resolve().parents[1] / "toolkit_project"
CAPABILITIES = [
    "functionsAcl:READ",
    "functionsAcl:WRITE",
    "functionsAcl:RUN",
    "filesAcl:READ",
    "filesAcl:WRITE",
    "sessionsAcl:CREATE",
    "sessionsAcl:LIST",
    "sessionsAcl:DELETE",
    "datasetsAcl:READ",
    "datasetsAcl:WRITE",
]


@pytest.fixture(scope="session")
def cdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `cdf` command of cognite-toolkit, in a virtual environment of its own."""
    return venv_with(tmp_path_factory.mktemp("toolkit") / "venv", TOOLKIT) / "cdf"


def test_toolkit_deploys_redeploys_unchanged_and_runs(
    cdf: Path,
    make_server,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RunningServer = make_server()
    arguments = [arg for capability in CAPABILITIES for arg in ("--capability", capability)]
    lines = fnhost(server, "client", "create", "--project", "tk", *arguments)
    client_id = next(line.split()[1] for line in lines if line.startswith("client_id:"))
    client_secret = next(line.split()[1] for line in lines if line.startswith("client_secret:"))
    project = tmp_path / "project"
    shutil.copytree(PROJECT_TEMPLATE, project)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FNHOST_")},
        # The toolkit reports telemetry unless it believes it runs under tests.
        "PYTEST_CURRENT_TEST": "1",
        "SENTRY_ENABLED": "false",
        "CDF_CLUSTER": "local",
        "CDF_PROJECT": "tk",
        "CDF_URL": server.url,
        "PROVIDER": "other",
        "LOGIN_FLOW": "client_credentials",
        "IDP_CLIENT_ID": client_id,
        "IDP_CLIENT_SECRET": client_secret,
        "IDP_TOKEN_URL": f"{server.url}/oauth2/token",
        "IDP_AUDIENCE": "fnhost",
        "IDP_SCOPES": "fnhost",
        "FUNCTION_CLIENT_ID": client_id,
        "FUNCTION_CLIENT_SECRET": client_secret,
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(cdf), *args], cwd=project, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return done.stdout

    run("build")
    first = run("deploy")
    assert summary_row(first, "data sets") == ["1", "0", "0", "0", "0", "1"]
    assert summary_row(first, "functions") == ["1", "0", "0", "0", "0", "1"]

    # Round trips are byte-exact, so a second deploy changes nothing.
    second = run("deploy")
    assert summary_row(second, "data sets") == ["0", "0", "0", "1", "0", "1"]
    assert summary_row(second, "functions") == ["0", "0", "0", "1", "0", "1"]
    assert summary_row(second, "All") == ["0", "0", "0", "3", "0", "3"]

    sdk = server.client("tk")
    function = wait_until(
        lambda: (f := sdk.functions.retrieve(external_id="my_fn")) and f.status == "Ready" and f
    )
    # Ours, plus the code hash the toolkit compares on every deploy.
    assert function.metadata["team"] == "core"
    assert "cognite-toolkit-hash" in function.metadata
    (schedule,) = sdk.functions.schedules.list(function_id=function.id)
    assert schedule.cron_expression == "* * * * *"
    assert sdk.functions.schedules.get_input_data(schedule.id) == {"x": 1}

    live = run("run", "function", "live", "my_fn", "--wait")
    assert "Completed" in live
    assert "adding one" in live


def summary_row(output: str, resource: str) -> list[str]:
    """The numbers of one row of the toolkit's deploy summary table."""
    for line in output.splitlines():
        cells = line.strip("│ ").split()
        if " ".join(cells[: len(resource.split())]) == resource:
            return cells[len(resource.split()) :]
    raise AssertionError(f"no {resource!r} row in:\n{output}")
