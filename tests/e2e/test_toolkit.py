"""cognite-toolkit 0.9.28, unmodified, drives a module (data set, function, schedule) on fnhost
as on CDF, logged in both ways a user logs in: the admin token (LOGIN_FLOW=token) and a client
registered with fnhost (client credentials, the README's way). Build, a dry run, deploy, a
redeploy that finds nothing to change, a redeploy of changed code (a new function, with a new
id), a live run, and clean; with client credentials also a local run, a dump and a pull."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cognite.client import CogniteClient

from tests.conftest import venv_with
from tests.e2e.test_identity import fnhost
from tests.servers import RunningServer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOOLKIT = "cognite-toolkit==0.9.28"
PROJECT_TEMPLATE = Path(__file__).resolve().parents[1] / "toolkit_project"
HANDLER = Path("modules/fn_mod/functions/my_fn/handler.py")
DATA_SET = Path("modules/fn_mod/data_sets/ds.DataSet.yaml")
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
# Each login deploys to a project of its own; the client is granted both, which names them.
PROJECTS = {"token": "tk-token", "client_credentials": "tk-client"}


@pytest.fixture(scope="session")
def cdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `cdf` command of cognite-toolkit, in a virtual environment of its own."""
    return venv_with(tmp_path_factory.mktemp("toolkit") / "venv", TOOLKIT) / "cdf"


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str


@pytest.fixture(scope="module")
def registered(server: RunningServer) -> Client:
    """A client on both projects: the toolkit's login (client credentials) and the schedules'
    authentication (both logins)."""
    arguments = [arg for capability in CAPABILITIES for arg in ("--capability", capability)]
    projects = [arg for project in PROJECTS.values() for arg in ("--project", project)]
    lines = fnhost(server, "client", "create", *projects, *arguments)
    return Client(
        client_id=next(line.split()[1] for line in lines if line.startswith("client_id:")),
        secret=next(line.split()[1] for line in lines if line.startswith("client_secret:")),
    )


def login_env(login: str, server: RunningServer, client: Client) -> dict[str, str]:
    credentials = (
        {"LOGIN_FLOW": "token", "CDF_TOKEN": server.token}
        if login == "token"
        else {
            "LOGIN_FLOW": "client_credentials",
            "IDP_CLIENT_ID": client.client_id,
            "IDP_CLIENT_SECRET": client.secret,
            "IDP_TOKEN_URL": f"{server.url}/oauth2/token",
            "IDP_AUDIENCE": "fnhost",
            "IDP_SCOPES": "fnhost",
        }
    )
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FNHOST_", "CDF_", "IDP_"))},
        # The toolkit reports telemetry unless it believes it runs under tests.
        "PYTEST_CURRENT_TEST": "1",
        "SENTRY_ENABLED": "false",
        "CDF_CLUSTER": "local",
        "CDF_PROJECT": PROJECTS[login],
        "CDF_URL": server.url,
        "PROVIDER": "other",
        "FUNCTION_CLIENT_ID": client.client_id,
        "FUNCTION_CLIENT_SECRET": client.secret,
        **credentials,
    }


def toolkit(cdf: Path, project: Path, env: dict[str, str]) -> Callable[..., str]:
    def run(*args: str) -> str:
        done = subprocess.run(
            [str(cdf), *args], cwd=project, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return done.stdout

    return run


def the_function(sdk: CogniteClient) -> int:
    """The id of the module's function once Ready (the toolkit does not wait for its build)."""
    function = wait_until(
        lambda: (f := sdk.functions.retrieve(external_id="my_fn")) and f.status == "Ready" and f
    )
    return int(function.id)


@pytest.mark.parametrize("login", ["token", "client_credentials"])
def test_toolkit_function_workflows(
    login: str, cdf: Path, server: RunningServer, registered: Client, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_TEMPLATE, project)
    config = project / "config.dev.yaml"
    config.write_text(config.read_text().replace("project: tk", f"project: {PROJECTS[login]}"))
    run = toolkit(cdf, project, login_env(login, server, registered))
    sdk = server.client(PROJECTS[login])

    run("build")
    planned = run("deploy", "--dry-run")
    assert summary_row(planned, "All")[:4] == ["3", "0", "0", "0"]
    assert sdk.functions.list() == []

    first = run("deploy")
    assert summary_row(first, "data sets") == ["1", "0", "0", "0", "0", "1"]
    assert summary_row(first, "functions") == ["1", "0", "0", "0", "0", "1"]
    assert summary_row(first, "function") == ["1", "0", "0", "0", "0", "1"]
    deployed = the_function(sdk)
    # Ours, plus the code hash the toolkit compares on every deploy.
    function = sdk.functions.retrieve(id=deployed)
    assert function is not None and function.metadata["team"] == "core"
    assert "cognite-toolkit-hash" in function.metadata
    (schedule,) = sdk.functions.schedules.list(function_id=deployed)
    assert schedule.cron_expression == "* * * * *"
    assert sdk.functions.schedules.get_input_data(schedule.id) == {"x": 1}

    # Round trips are byte-exact, so a second deploy changes nothing.
    unchanged = run("deploy")
    assert summary_row(unchanged, "All") == ["0", "0", "0", "3", "0", "3"]
    assert sdk.functions.retrieve(id=deployed) is not None

    # Changed code: the toolkit deletes the function and creates it again, which gets a new
    # id; a changed data set is updated in place.
    handler = project / HANDLER
    handler.write_text(handler.read_text().replace("adding one", "adding one, v2"))
    data_set = project / DATA_SET
    data_set.write_text(data_set.read_text().replace("Function code", "Function code, v2"))
    run("build")
    changed = run("deploy")
    assert summary_row(changed, "data sets") == ["0", "1", "0", "0", "0", "1"]
    assert summary_row(changed, "functions") == ["1", "0", "1", "0", "0", "2"]
    redeployed = the_function(sdk)
    assert redeployed > deployed
    assert sdk.functions.retrieve(id=deployed) is None
    (rescheduled,) = sdk.functions.schedules.list(function_id=redeployed)
    assert rescheduled.id > schedule.id
    data_set_read = sdk.data_sets.retrieve(external_id="ds_fn")
    assert data_set_read is not None and data_set_read.description == "Function code, v2"

    live = run("run", "function", "live", "my_fn", "--wait")
    assert "Completed" in live
    assert "adding one, v2" in live

    if login == "client_credentials":
        local = run("run", "function", "local", "my_fn")
        assert "adding one, v2" in local
        assert "successfully executed code" in local
        dumped = project / "dumped"
        run("dump", "functions", "my_fn", "--output-dir", str(dumped))
        assert (dumped / "functions" / "my_fn" / "handler.py").read_text() == handler.read_text()
        assert "externalId: my_fn" in (dumped / "functions" / "my_fn.Function.yaml").read_text()
        pulled = run("modules", "pull", "fn_mod")
        assert summary_row(pulled, "All")[:2] == ["0", "3"]

    cleaned = run("clean")
    assert summary_row(cleaned, "functions") == ["0", "0", "1", "0", "0", "1"]
    assert summary_row(cleaned, "function") == ["0", "0", "1", "0", "0", "1"]
    assert sdk.functions.list() == []
    assert sdk.functions.schedules.list() == []


def summary_row(output: str, resource: str) -> list[str]:
    """The numbers of one row of the toolkit's summary table."""
    for line in output.splitlines():
        cells = line.strip("│ ").split()
        if " ".join(cells[: len(resource.split())]) == resource:
            return cells[len(resource.split()) :]
    raise AssertionError(f"no {resource!r} row in:\n{output}")
