"""Hostile functions against a real server in the bubblewrap sandbox: each is contained, ends
with a clear status and message, and a normal call right after it completes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import Function

from tests.conftest import deploy, require_sandbox
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e

UID_SLOTS = 16 + 2  # FNHOST_MAX_CONCURRENT_CALLS + FNHOST_BUILD_CONCURRENCY (defaults)
HOSTILE = ["hostile_read", "hostile_fork", "hostile_memory", "hostile_output", "hostile_disk"]
HOSTILE += ["hostile_kill", "hostile_files", "connects", "ok"]


@pytest.fixture(scope="module")
def sandboxed(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[RunningServer]:
    """A server that must sandbox (FNHOST_SANDBOX=bwrap), with small limits."""
    require_sandbox()
    server = RunningServer(
        data_dir=tmp_path_factory.mktemp("sandboxed") / "data",
        environments_dir=environments_dir,
        env={
            "FNHOST_SANDBOX": "bwrap",
            "FNHOST_CALL_TIMEOUT_SECONDS": "10",
            "FNHOST_CALL_MAX_PROCESSES": "32",
            "FNHOST_CALL_MAX_OPEN_FILES": "64",
            "FNHOST_CALL_MAX_FILE_SIZE_MB": "8",
            "FNHOST_CALL_TMP_SIZE_MB": "16",
            "FNHOST_CALL_LOG_MAX_BYTES": "4096",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def functions(sandboxed: RunningServer) -> dict[str, Function]:
    client = sandboxed.client(f"hostile-{uuid.uuid4().hex[:8]}")
    deployed = {name: deploy(client, name, memory=0.5) for name in HOSTILE}
    for name, function in deployed.items():
        assert function.status == "Ready", (name, function.error)
    return deployed


def uid_base(server: RunningServer) -> int:
    return int(server.env["FNHOST_SANDBOX_UID_BASE"])


def sandbox_processes(server: RunningServer) -> list[int]:
    """Processes of calls on this machine: running as one of the server's sandbox uids, and
    neither a function's warm instance nor its spare (which outlive calls by design)."""
    base = uid_base(server)
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid_line = next(line for line in status.read_text().splitlines() if line[:4] == "Uid:")
        except (OSError, StopIteration):
            continue
        process = status.parent
        if base <= int(uid_line.split()[1]) < base + UID_SLOTS and not (
            _is_instance(process) or _is_spare(process)
        ):
            found.append(int(process.name))
    return found


def _runs_zygote(process: Path) -> bool:
    try:
        return b"zygote.py" in (process / "cmdline").read_bytes()
    except OSError:
        return False


def _is_instance(process: Path) -> bool:
    """A zygote itself, not one of the calls it forked (which inherit its command line)."""
    try:
        parent = (process / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return False
    # A call's parent is its zygote (python); a zygote's is bubblewrap.
    try:
        parent_is_python = (Path("/proc") / parent / "comm").read_text().startswith("python")
    except OSError:
        parent_is_python = False
    return _runs_zygote(process) and not parent_is_python


def _is_spare(process: Path) -> bool:
    """The process an instance keeps forked ahead of its next call (see runtime/zygote.py)."""
    try:
        return (process / "comm").read_text().strip() == "fnhost-spare"
    except OSError:
        return False


def assert_still_serving(server: RunningServer, functions: dict[str, Function]) -> None:
    """The server is alive, nothing of a sandboxed call is left, and a normal call completes."""
    assert server.process is not None and server.process.poll() is None
    wait_until(lambda: not sandbox_processes(server), timeout=10)
    call = functions["ok"].call(data={"x": 1}, wait=True)
    assert call.status == "Completed", call.error
    assert call.get_response() == {"x": 2}


def test_server_reports_its_isolation(sandboxed: RunningServer) -> None:
    with sandboxed.http() as http:
        status = http.get("/api/v1/projects/any/functions/status").json()
    assert status["isolation"] == "bwrap"
    assert status["resources"] in ("cgroup v1", "cgroup v2")
    assert status["seccomp"] is True
    # .ci/run installs bubblewrap: this suite runs the system's (the README's fresh-clone
    # test runs the bundled one).
    logs = sandboxed.logs()
    system_bwrap = shutil.which("bwrap")
    assert (
        f"function isolation: bubblewrap sandbox (system bwrap {system_bwrap}), as dedicated"
        in logs
    )
    assert "function resources: CPU quota and memory limit of each call" in logs
    assert "function system calls: seccomp filter" in logs


def test_platform_files_are_out_of_reach(
    sandboxed: RunningServer, functions: dict[str, Function]
) -> None:
    data_dir = sandboxed.data_dir
    other_code = data_dir / "functions" / str(functions["ok"].id) / "code"
    secrets = [data_dir / "fnhost.db", data_dir / "secret.key", other_code / "handler.py"]
    assert all(path.exists() for path in secrets)  # they are there, just not for the function
    assert sandboxed.process is not None
    server_proc = f"/proc/{sandboxed.process.pid}/environ"
    call = functions["hostile_read"].call(
        data={
            "read": [*map(str, secrets), server_proc, "handler.py", "/etc/hostname"],
            "list": [str(data_dir), str(other_code), "/"],
            "write": [".", "/usr", str(data_dir), "/tmp"],
        },
        wait=True,
    )
    assert call.status == "Completed", call.error
    outcome = call.get_response()
    for path in [*map(str, secrets), server_proc]:
        assert outcome["read"][path] == "FileNotFoundError", path
    assert outcome["read"]["handler.py"] == "ok"  # its own code, through the same check
    assert outcome["list"][str(data_dir)] == "FileNotFoundError"
    assert outcome["list"][str(other_code)] == "FileNotFoundError"
    assert outcome["list"]["/"] == "ok"
    assert outcome["write"]["."] == "OSError"  # read-only code
    assert outcome["write"]["/usr"] == "OSError"
    assert outcome["write"][str(data_dir)] == "FileNotFoundError"
    assert outcome["write"]["/tmp"] == "ok"
    assert uid_base(sandboxed) <= outcome["uid"] < uid_base(sandboxed) + UID_SLOTS
    assert_still_serving(sandboxed, functions)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("hostile_memory", {}, "The call ran out of memory (limit 0.5 GB"),
        ("hostile_fork", {}, "The call hit the limit of 32 processes and threads"),
        ("hostile_files", {}, "The call hit the limit of 64 open files"),
        (
            "hostile_disk",
            {"mode": "one_file"},
            "The call wrote a file larger than the limit of 8 MB",
        ),
        (
            "hostile_disk",
            {"mode": "many_files"},
            "The call filled its temporary space (limit 16 MB in /tmp",
        ),
    ],
)
def test_exhausting_a_resource_fails_the_call_naming_the_limit(
    sandboxed: RunningServer,
    functions: dict[str, Function],
    name: str,
    data: dict[str, str],
    message: str,
) -> None:
    call = functions[name].call(data=data, wait=True)
    assert call.status == "Failed"
    assert call.error["message"].startswith(message), call.error["message"]
    assert_still_serving(sandboxed, functions)


def test_endless_output_is_capped_and_stopped_at_the_deadline(
    sandboxed: RunningServer, functions: dict[str, Function]
) -> None:
    call = functions["hostile_output"].call(wait=True)
    assert call.status == "Timeout"
    assert "time limit of 10 seconds" in call.error["message"]
    logs = call.get_logs()
    assert "log output truncated" in logs[-1].message
    assert sum(len(entry.message) for entry in logs) < 8192
    assert_still_serving(sandboxed, functions)


def test_an_endless_line_is_cut_and_does_not_pile_up_in_the_server(
    sandboxed: RunningServer, functions: dict[str, Function]
) -> None:
    assert sandboxed.process is not None
    server = psutil.Process(sandboxed.process.pid)

    call = functions["hostile_output"].call(data={"newlines": False}, wait=True)

    assert call.status == "Timeout"
    # Cut at 10,000 characters, the line is over this server's 4 KiB of logs per call.
    (entry,) = call.get_logs()
    assert "log output truncated" in entry.message
    # Ten seconds of output at pipe speed (gigabytes) went through without being kept.
    assert server.memory_info().rss < 400e6
    assert_still_serving(sandboxed, functions)


def test_killing_the_server_is_refused_and_killing_the_parent_stops_only_its_instance(
    sandboxed: RunningServer, functions: dict[str, Function]
) -> None:
    assert sandboxed.process is not None
    call = functions["hostile_kill"].call(data={"server_pid": sandboxed.process.pid}, wait=True)
    # The server is in another pid namespace; the call's parent is its own function's
    # instance, which it may stop: that ends this call (and no other function's).
    # (The instance's end may kill the call before it prints what its kill returned.)
    assert [entry.message for entry in call.get_logs()][:1] == ["server: ProcessLookupError"]
    assert call.status == "Failed"
    assert "instance stopped during the call" in call.error["message"]
    assert_still_serving(sandboxed, functions)


def test_network_is_allowed_by_default(
    sandboxed: RunningServer, functions: dict[str, Function]
) -> None:
    call = functions["connects"].call(data={"port": sandboxed.port}, wait=True)
    assert call.get_response() == {"connected": True}


def test_network_can_be_denied(make_server) -> None:  # type: ignore[no-untyped-def]
    require_sandbox()
    server = make_server({"FNHOST_SANDBOX": "bwrap", "FNHOST_CALL_NETWORK": "deny"})
    client: CogniteClient = server.client()
    function = deploy(client, "connects")
    call = function.call(data={"port": server.port}, wait=True)
    assert call.get_response() == {"connected": False, "error": "ConnectionRefusedError"}


def doctor(**env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "fnhost", "doctor"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_doctor_prints_the_isolation_and_the_limits() -> None:
    require_sandbox()
    report = doctor(FNHOST_SANDBOX="bwrap", FNHOST_CALL_MAX_PROCESSES="77")
    assert report.startswith(
        f"isolation: bwrap\n  bubblewrap sandbox (system bwrap {shutil.which('bwrap')})"
    )
    assert "\nresources: cgroup v" in report
    assert "\nseccomp: on\n" in report
    assert "processes:   77 processes and threads" in report
    assert "not enforced" not in report
    report = doctor(FNHOST_SANDBOX="none")
    assert report.startswith("isolation: none\n  no sandbox (FNHOST_SANDBOX=none)")
    assert "processes and threads (FNHOST_CALL_MAX_PROCESSES)  [not enforced here]" in report
    assert "\nseccomp: off\n  no seccomp filter (no sandbox)" in report
    report = doctor(FNHOST_SANDBOX="bwrap", FNHOST_CGROUPS="off")
    assert "\nresources: rlimits\n  rlimits only: CPU not enforced, memory per process" in report
    assert "cpu:         the function's cpu (default 1 cores)  [not enforced here]" in report
