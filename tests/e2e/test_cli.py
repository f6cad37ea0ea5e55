"""The client commands (`fnhost functions|call|calls|schedules`) as a user runs them: a
subprocess against a real server, its stdout parsed as a script would, its exit code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FUNCTIONS
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment without fnhost's settings, and an empty home: no local
    server, no data directory, no admin token. Wide columns: Rich wraps nothing."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNHOST_")}
    env.pop("XDG_DATA_HOME", None)
    return {**env, "HOME": str(home), "COLUMNS": "1000"}


@dataclass
class Cli:
    """`python -m fnhost ...` with an environment that names the server, token and project."""

    env: dict[str, str]

    def run(
        self, *args: str, code: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "fnhost", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str, code: int = 0) -> Any:
        """The command's stdout with --json, parsed."""
        return json.loads(self.run(*args, "--json", code=code).stdout)

    def deploy(self, folder: str, name: str | None = None) -> dict[str, Any]:
        function: dict[str, Any] = self.json(
            "functions", "deploy", str(FUNCTIONS / folder), "--name", name or folder
        )
        assert function["status"] == "Ready"
        return function


@pytest.fixture
def cli(server: RunningServer, tmp_path: Path) -> Cli:
    """The CLI pointed at the shared server, in a project of this test's own."""
    env = clean_environment(tmp_path / "home")
    env |= {
        "FNHOST_URL": server.url,
        "FNHOST_TOKEN": server.token,
        "FNHOST_PROJECT": f"cli-{uuid.uuid4().hex[:8]}",
    }
    return Cli(env)


@pytest.fixture(scope="module")
def own_server(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[RunningServer]:
    """A server as a plain `fnhost serve` starts (its admin token written into its data
    directory, calls of up to 10 minutes), with JSON logs."""
    running = RunningServer(
        data_dir=tmp_path_factory.mktemp("cli") / "data",
        environments_dir=environments_dir,
        env={"FNHOST_ADMIN_TOKEN": "", "FNHOST_LOG_FORMAT": "json"},
    ).start()
    yield running
    running.stop()


@pytest.fixture
def local_cli(own_server: RunningServer, tmp_path: Path) -> Cli:
    """The CLI with only the local server's settings: its port and data directory."""
    env = clean_environment(tmp_path / "home")
    env |= {
        "FNHOST_DATA_DIR": str(own_server.data_dir),
        "FNHOST_PORT": str(own_server.port),
        "FNHOST_PROJECT": f"local-{uuid.uuid4().hex[:8]}",
    }
    return Cli(env)


def admin_token(server: RunningServer) -> str:
    return (server.data_dir / "admin-token").read_text().strip()


def test_deploy_follows_a_folder_to_ready(cli: Cli) -> None:
    done = cli.run(
        "functions",
        "deploy",
        str(FUNCTIONS / "ok"),
        "--name",
        "adder",
        "--external-id",
        "adder-x",
        "--env",
        "GREETING=hello=world",
        "--secret",
        "api-key=s3cret",
        "--memory",
        "1",
    )
    progress = done.stderr.splitlines()
    assert progress[0].startswith("adder (id ") and ": Queued (" in progress[0]
    assert ": Ready (" in progress[-1]

    shown = cli.json("functions", "show", "adder-x")
    assert shown["status"] == "Ready"
    assert shown["envVars"] == {"GREETING": "hello=world"}
    assert shown["secrets"] == {"api-key": "***"}
    assert shown["memory"] == 1
    assert [f["name"] for f in cli.json("functions", "list")] == ["adder"]
    assert "adder" in cli.run("functions", "list").stdout


def test_deploy_of_a_broken_folder_exits_1_with_the_reason_and_build_output(cli: Cli) -> None:
    done = cli.run("functions", "deploy", str(FUNCTIONS / "syntax_error"), "--name", "b", code=1)

    assert ": Failed (" in done.stderr
    assert "Deploy failed: handler.py has a syntax error at line" in done.stderr
    assert "Build output:" in done.stderr and "SyntaxError" in done.stderr
    shown = cli.run("functions", "show", "b").stdout
    assert "handler.py has a syntax error" in shown and "SyntaxError" in shown


def test_deploy_refuses_a_folder_without_its_handler(cli: Cli, tmp_path: Path) -> None:
    done = cli.run("functions", "deploy", str(tmp_path), "--name", "empty", code=2)

    assert "handler.py does not exist" in done.stderr
    assert cli.json("functions", "list") == []


def test_call_prints_the_response_on_stdout_and_the_logs_on_stderr(
    cli: Cli, tmp_path: Path
) -> None:
    cli.deploy("ok")
    cli.deploy("chatty")
    data = tmp_path / "data.json"
    data.write_text('{"x": 41}')

    assert json.loads(cli.run("call", "ok", "--data", '{"x": 1}').stdout) == {"x": 2}
    assert json.loads(cli.run("call", "ok", "--data", f"@{data}").stdout) == {"x": 42}
    assert json.loads(cli.run("call", "ok", "--data", "@-", stdin='{"x": 9}').stdout) == {"x": 10}
    chatty = cli.run("call", "chatty", "--data", '{"lines": 3}')
    assert json.loads(chatty.stdout) == {"printed": 3}
    assert chatty.stderr.splitlines() == ["line 0", "line 1", "line 2"]

    # Piped, as into jq: stdout is the response and nothing else.
    piped = subprocess.run(
        f"{sys.executable} -m fnhost call ok --data '{{\"x\": 5}}' | "
        f"{sys.executable} -c 'import json, sys; print(json.load(sys.stdin)[\"x\"])'",
        shell=True,
        env=cli.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout == "6\n"


def test_call_refuses_data_that_is_not_json(cli: Cli) -> None:
    cli.deploy("ok")

    done = cli.run("call", "ok", "--data", "{x: 1}", code=2)

    assert "not valid JSON" in done.stderr
    assert cli.json("calls", "list", "ok") == []


def test_failing_call_exits_1_with_the_error_and_trace_on_stderr(cli: Cli) -> None:
    cli.deploy("raises")

    done = cli.run("call", "raises", "--data", '{"v": 3}', code=1)

    assert done.stdout == ""
    assert "about to fail" in done.stderr  # its logs
    assert "ended Failed: ValueError: bad value 3" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    failed = cli.json("calls", "list", "raises", "--status", "failed")
    assert [c["status"] for c in failed] == ["Failed"]


def test_call_past_its_timeout_exits_1(cli: Cli) -> None:
    cli.deploy("sleeps")  # the shared server's calls time out after 5 s

    done = cli.run("call", "sleeps", "--data", '{"seconds": 60}', code=1)

    assert "ended Timeout" in done.stderr


def test_logs_follow_prints_lines_while_the_call_runs(
    local_cli: Cli, own_server: RunningServer
) -> None:
    function = local_cli.deploy("ticks")
    with socket.create_server(("127.0.0.1", 0)) as gate:
        gate.settimeout(60)
        data = {"ticks": 4, "interval": 0.5, "gate": gate.getsockname()[1]}
        started = local_cli.json("call", "ticks", "--no-wait", "--data", json.dumps(data))
        with subprocess.Popen(
            [sys.executable, "-m", "fnhost", "calls", "logs", "ticks", str(started["id"]), "-f"],
            env=local_cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as follower:
            assert follower.stdout is not None and follower.stderr is not None
            first = follower.stdout.readline()
            # The call waits at its gate after its first line: it is running now, for sure.
            with own_server.http(admin_token(own_server)) as http:
                path = f"/api/v1/projects/{local_cli.env['FNHOST_PROJECT']}/functions"
                call = http.get(f"{path}/{function['id']}/calls/{started['id']}").json()
            connection, _ = gate.accept()
            with connection:
                connection.sendall(b"go")
                rest = follower.stdout.readlines()  # until the follower exits, with the call
            errors = follower.stderr.read()

    assert first == "tick 0\n"
    assert call["status"] == "Running"
    assert rest == ["tick 1\n", "tick 2\n", "tick 3\n"]
    assert follower.wait(timeout=30) == 0
    assert f"Call {started['id']} ended Completed." in errors


def test_every_command_prints_json_with_json(cli: Cli) -> None:
    function = cli.deploy("chatty", name="chatty")
    assert cli.json("functions", "list")[0]["id"] == function["id"]
    assert cli.json("functions", "show", "chatty")["name"] == "chatty"

    ended = cli.json("call", "chatty", "--data", '{"lines": 2}')
    assert (ended["status"], ended["response"]) == ("Completed", {"printed": 2})
    started = cli.json("call", "chatty", "--no-wait")
    assert started["functionId"] == function["id"]
    assert {c["id"] for c in cli.json("calls", "list", "chatty")} >= {ended["id"]}
    logs = cli.json("calls", "logs", "chatty", str(ended["id"]))
    assert [entry["message"] for entry in logs] == ["line 0", "line 1"]
    followed = cli.run("calls", "logs", "chatty", str(ended["id"]), "--follow", "--json")
    assert [json.loads(line)["message"] for line in followed.stdout.splitlines()] == [
        "line 0",
        "line 1",
    ]

    schedule = cli.json(
        "schedules", "create", "--function", "chatty", "--name", "s", "--cron", "0 3 * * *"
    )
    assert schedule["when"] == "At 03:00"
    ticks = schedule["nextFireTimes"]
    assert len(ticks) == 5 and all(t % 86_400_000 == 3 * 3_600_000 for t in ticks)
    assert [s["id"] for s in cli.json("schedules", "list", "--function", "chatty")] == [
        schedule["id"]
    ]
    assert cli.json("schedules", "delete", str(schedule["id"]))["id"] == schedule["id"]
    assert cli.json("schedules", "list") == []

    assert cli.json("functions", "delete", "chatty")["id"] == function["id"]
    assert cli.json("functions", "list") == []


def test_schedule_create_shows_when_and_the_next_ticks(cli: Cli) -> None:
    cli.deploy("ok")

    done = cli.run(
        "schedules",
        "create",
        "--function",
        "ok",
        "--name",
        "n",
        "--cron",
        "30 2 * * MON-FRI",
        "--data",
        '{"x": 1}',
    )

    assert "At 02:30, Monday through Friday" in done.stdout
    assert done.stdout.count(" 02:30:00") == 5
    bad = cli.run(
        "schedules", "create", "--function", "ok", "--name", "b", "--cron", "61 * * * *", code=1
    )
    assert "bad minute field '61'" in bad.stderr and "(HTTP 400" in bad.stderr


def test_a_function_is_named_by_id_external_id_or_name(cli: Cli, server: RunningServer) -> None:
    client = server.client(cli.env["FNHOST_PROJECT"])
    first = cli.deploy("ok", name="twin")
    second = cli.json(
        "functions", "deploy", str(FUNCTIONS / "ok"), "--name", "twin", "--external-id", "17"
    )
    # An external id that looks like an id: the id wins, as the external id it stays reachable.
    assert cli.json("functions", "show", str(first["id"]))["id"] == first["id"]
    assert cli.json("functions", "show", "17")["id"] == second["id"] != 17

    ambiguous = cli.run("call", "twin", code=1)
    assert f"2 functions in project {cli.env['FNHOST_PROJECT']!r} are named 'twin'" in (
        ambiguous.stderr
    )
    assert f"id {first['id']}" in ambiguous.stderr
    assert f"id {second['id']}, external id '17'" in ambiguous.stderr
    missing = cli.run("functions", "show", "nope", code=1)
    assert "No function 'nope'" in missing.stderr
    assert len(client.functions.list()) == 2


def test_refused_requests_exit_1_with_the_servers_message(cli: Cli, server: RunningServer) -> None:
    done = cli.run("functions", "list", "--token", "not-a-token", code=1)
    assert "Invalid, revoked or expired bearer token (HTTP 401, request id " in done.stderr

    gone = cli.run("schedules", "delete", "424242", code=1)
    assert '"id": 424242' in gone.stderr and "(HTTP 400" in gone.stderr

    unreachable = cli.run("functions", "list", "--url", "http://127.0.0.1:9", code=1)
    assert "Cannot reach http://127.0.0.1:9" in unreachable.stderr


def test_a_remote_server_by_url_and_token_without_local_data(
    server: RunningServer, tmp_path: Path
) -> None:
    remote = Cli(clean_environment(tmp_path / "home"))
    project = ("--project", "far")

    listed = remote.json(
        "functions", "list", "--url", server.url, "--token", server.token, *project
    )

    assert listed == []
    anonymous = remote.run("functions", "list", "--url", server.url, *project, code=1)
    assert f"No token for {server.url}" in anonymous.stderr
    assert "No project" in remote.run("functions", "list", code=1).stderr


def test_the_local_server_and_its_admin_token_by_default(local_cli: Cli) -> None:
    assert local_cli.json("functions", "list") == []


def test_client_commands_start_without_loading_the_server() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from fnhost.cli.main import app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'sqlalchemy', 'alembic', 'uvicorn') or m.startswith('fnhost.services')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout == "[]\n"


def test_json_server_logs_carry_the_request_and_call_ids(own_server: RunningServer) -> None:
    project = f"logs-{uuid.uuid4().hex[:8]}"
    client = own_server.client(project, token=admin_token(own_server))
    function = client.functions.create(name="ok", folder=str(FUNCTIONS / "ok"))
    path = f"/api/v1/projects/{project}/functions/{function.id}"
    with own_server.http(admin_token(own_server)) as http:
        wait_until(lambda: http.get(path).json()["status"] == "Ready")
        http.post(f"{path}/call", json={"data": {"x": 0}})  # the dispatcher has run once since
        answer = http.post(f"{path}/call", json={"data": {"x": 1}})
    call_id, request_id = answer.json()["id"], answer.headers["x-request-id"]

    def finished() -> list[dict[str, Any]]:
        records = [json.loads(line) for line in own_server.logs().splitlines()]
        return [
            r
            for r in records
            if r.get("action") == "call_ended"
            and r.get("project") == project
            and r["call_id"] == call_id
        ]

    (line,) = wait_until(finished, timeout=30)
    assert line["request_id"] == request_id
    assert line["function_id"] == function.id
    assert line["level"] == "INFO" and line["logger"] == "fnhost.services.endings"
    assert {"time", "message"} <= line.keys()
    actions = {json.loads(text).get("action") for text in own_server.logs().splitlines()}
    assert {"migrate_started", "migrate_done", "base_environment_started"} <= actions
