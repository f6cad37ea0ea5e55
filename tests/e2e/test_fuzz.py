"""Fuzzing every route of a real `fnhost serve` from its OpenAPI document, with the schemathesis
CLI: no 5xx, every error in the CDF shape and as documented, and the server alive afterwards.

Path parameters are drawn half of the time from ids that exist (a Ready function, its call, a
schedule, a file and its upload and download keys), so that cases reach the code behind the
404s. The run is deterministic (the same cases every time) and bounded by MAX_EXAMPLES.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import deploy
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

HOOKS = Path(__file__).with_name("fuzz_hooks.py")
PROJECT = "fuzz"
MAX_EXAMPLES = 15
CHECKS = [
    "not_a_server_error",
    "cdf_error_shape",  # fuzz_hooks.py
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Left out: negative_data_rejection (pydantic takes 0 and 1 for booleans, as lax JSON APIs do)
# and ignored_auth (its probes bypass the hook that gzips a body that says it is gzipped).


def _known_ids(server: RunningServer) -> dict[str, list[Any]]:
    """Real resources in PROJECT, by the path parameter that names them."""
    client = server.client(PROJECT)
    function = deploy(client, "ok")
    call = function.call(data={"x": 1}, wait=True)
    schedule = client.functions.schedules.create(
        name="fuzz", cron_expression="0 0 1 1 *", function_id=function.id, data={"x": 1}
    )
    with server.http() as http:
        created = http.post(f"/api/v1/projects/{PROJECT}/files", json={"name": "f.zip"}).json()
        link = http.post(
            f"/api/v1/projects/{PROJECT}/files/downloadlink",
            json={"items": [{"id": function.file_id}]},
        ).json()["items"][0]["downloadUrl"]
    file_id, token = link.rsplit("/", 2)[-2:]
    return {
        "project": [PROJECT],
        "functionId": [function.id],
        "callId": [call.id],
        "scheduleId": [schedule.id],
        "fileId": [function.file_id, created["id"]],
        "upload_key": [created["uploadUrl"].rsplit("/", 1)[-1]],
        "file_id": [int(file_id)],
        "token": [token],
    }


def _config(known: dict[str, list[Any]]) -> str:
    lines = []
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in known]
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(240)  # about 30 s alone on 2 cores; allow for a loaded machine
def test_fuzz_every_route(make_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    server = make_server()
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(_known_ids(server)))
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            Path(sys.executable).with_name("schemathesis"),
            "--config-file",
            config,
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {server.token}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--workers",
            "1",
            "--report",
            "json",
            "--report-json-path",
            report,
        ],
        env={"SCHEMATHESIS_HOOKS": str(HOOKS), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    summary = json.loads(report.read_text())
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 38
    assert summary["test_cases"]["generated"] >= 38 * MAX_EXAMPLES
    assert "Traceback" not in server.logs()
    print(  # noqa: T201 - the figures the README quotes
        f"{summary['test_cases']['generated']} cases in {summary['running_time']:.1f} s"
    )

    # Alive and well: a normal call still completes.
    function = deploy(server.client("after-fuzz"), "ok")
    assert function.call(data={"x": 41}, wait=True).get_response() == {"x": 42}
