"""Function builds through the real cognite-sdk: requirements, caching, runtimes, validation."""

from __future__ import annotations

import http.server
import io
import socket
import stat
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import Function
from cognite.client.exceptions import CogniteAPIError, CogniteFileUploadError

from fnhost.builder.runtimes import SUPPORTED
from tests.conftest import FUNCTIONS, deploy
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e

HANDLER = b"def handle(data):\n    return data\n"
PASSWORD = "s3cret-pa55w0rd"
USERNAME = "fnhost-index-user"


def environment_of(server: RunningServer, function_id: int) -> str:
    """What the server logged of the environment a function got: 'KEY (built|cached)'."""
    prefix = f"function {function_id} uses environment "
    (line,) = [line for line in server.logs().splitlines() if prefix in line]
    return line.split(prefix, 1)[1]


def settled(client: CogniteClient, function_id: int, timeout: float = 120) -> Function:
    return wait_until(
        lambda: (
            (f := client.functions.retrieve(id=function_id))
            and f.status in ("Ready", "Failed")
            and f
        ),
        timeout=timeout,
    )


def deploy_zip(client: CogniteClient, content: bytes, name: str) -> Function:
    file_id = client.files.upload_bytes(content, name=f"{name}.zip").id
    return settled(client, client.functions.create(name=name, file_id=file_id).id)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def function_folder(root: Path, requirements: str) -> Path:
    root.mkdir()
    (root / "handler.py").write_bytes(HANDLER)
    (root / "requirements.txt").write_text(requirements)
    return root


@pytest.fixture
def index_url() -> Iterator[Callable[[str], str]]:
    """A package index on 127.0.0.1 that misbehaves; returns URLs carrying credentials."""
    stoppers: list[Callable[[], None]] = []

    def start(behaviour: str) -> str:
        if behaviour == "unauthorized":

            class Unauthorized(http.server.BaseHTTPRequestHandler):
                def do_GET(self) -> None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="index"')
                    self.end_headers()

                def log_message(self, *args: object) -> None:
                    return None

            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unauthorized)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            stoppers.append(httpd.shutdown)
            stoppers.append(httpd.server_close)
            port = httpd.server_address[1]
        else:  # "hangs": accepts connections and never answers
            listener = socket.create_server(("127.0.0.1", 0))
            stoppers.append(listener.close)
            port = listener.getsockname()[1]
        return f"http://{USERNAME}:{PASSWORD}@127.0.0.1:{port}/simple"

    yield start
    for stop in stoppers:
        stop()


def test_pinned_requirement_imports_and_second_function_reuses_environment(
    client: CogniteClient, server: RunningServer
) -> None:
    first = deploy(client, "pinned_requirement", skip_folder_validation=True)
    assert first.status == "Ready", first.error
    response = first.call(wait=True).get_response()
    assert response["tabulate"] == "0.9.0"
    assert response["table"] == "1  2"
    assert response["sees_fastapi"] is False

    started = time.monotonic()
    second = deploy(client, "pinned_requirement", name="again", skip_folder_validation=True)
    seconds = time.monotonic() - started
    assert second.status == "Ready", second.error
    # (Other tests' builds may run on the shared server meanwhile: look at this function's.)
    first_env = environment_of(server, first.id)
    assert environment_of(server, second.id) == first_env.replace("(built)", "(cached)")
    print(f"deploy-to-Ready with a cached environment: {seconds:.2f} s")  # noqa: T201
    assert second.call(wait=True).get_response()["tabulate"] == "0.9.0"


def test_pinned_cognite_sdk_is_the_one_the_handler_sees(client: CogniteClient) -> None:
    function = deploy(client, "pinned_sdk", skip_folder_validation=True)
    assert function.status == "Ready", function.error
    call = function.call(wait=True)
    assert call.status == "Completed", call.error
    response = call.get_response()
    assert response["sdk"] == "7.90.0"
    assert response["functions_seen"] == [function.id]


def test_nonexistent_requirement_fails_with_the_package_name(
    client: CogniteClient, tmp_path: Path
) -> None:
    folder = function_folder(tmp_path / "fn", "fnhost-no-such-package-q7x==1.0\n")
    function = client.functions.create(name="missing-req", folder=str(folder))
    function = settled(client, function.id)
    assert function.status == "Failed"
    assert function.error["message"] == (
        "Could not install the requirements: fnhost-no-such-package-q7x was not found in the "
        "package index"
    )
    assert "fnhost-no-such-package-q7x" in function.error["trace"]


def test_index_credentials_never_leak(
    client: CogniteClient, server: RunningServer, tmp_path: Path, index_url: Callable[[str], str]
) -> None:
    url = index_url("unauthorized")
    folder = function_folder(tmp_path / "fn", "tabulate==0.9.0\n")
    function = client.functions.create(
        name="private-index", folder=str(folder), index_url=url, extra_index_urls=[url]
    )
    function = settled(client, function.id)
    assert function.status == "Failed"
    message, trace = function.error["message"], function.error["trace"]
    assert "401 Unauthorized" in message
    assert "tabulate" in message
    raw = client.get(f"/api/v1/projects/{client.config.project}/functions/{function.id}").text
    for text in (message, trace, raw, server.logs()):
        assert PASSWORD not in text
        assert USERNAME not in text


def test_interrupted_build_is_built_again_and_builds_time_out(
    make_server: Callable[..., RunningServer], tmp_path: Path, index_url: Callable[[str], str]
) -> None:
    server = make_server({"FNHOST_ENVIRONMENT_BUILD_TIMEOUT_SECONDS": "600"})
    client = server.client()
    folder = function_folder(tmp_path / "fn", "tabulate==0.9.0\n")
    function = client.functions.create(name="hangs", folder=str(folder), index_url=index_url("x"))
    wait_until(lambda: client.functions.retrieve(id=function.id).status == "Deploying")
    server.stop()

    server.env["FNHOST_ENVIRONMENT_BUILD_TIMEOUT_SECONDS"] = "3"
    server.start()
    function = settled(client, function.id)
    assert function.status == "Failed"
    assert function.error["message"].startswith(
        "Building the environment took longer than 3 seconds"
    )
    assert PASSWORD not in server.logs()


def test_unused_environments_are_collected_and_used_ones_kept(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    environments = tmp_path / "own-environments"
    server = make_server(
        {
            "FNHOST_ENVIRONMENTS_DIR": str(environments),
            "FNHOST_ENVIRONMENT_KEEP_HOURS": "0",
        }
    )
    wait_until(lambda: "base environment ready" in server.logs(), timeout=120)
    base = {path.name for path in environments.iterdir()}
    client = server.client()
    kept = deploy(client, "pinned_requirement", skip_folder_validation=True)
    after_kept = {path.name for path in environments.iterdir()}
    dropped = settled(
        client,
        client.functions.create(
            name="dropped", folder=str(function_folder(tmp_path / "fn", "tabulate==0.8.10\n"))
        ).id,
    )
    assert kept.status == dropped.status == "Ready"
    (dropped_env,) = {path.name for path in environments.iterdir()} - after_kept
    assert len(base) == 1 and len(after_kept - base) == 1

    client.functions.delete(id=dropped.id)
    # The log line comes once the directory is gone.
    wait_until(lambda: f"deleted environment {dropped_env}: no" in server.logs(), timeout=60)
    assert {path.name for path in environments.iterdir()} == after_kept
    assert kept.call(wait=True).get_response()["tabulate"] == "0.9.0"


def test_import_error_keeps_the_traceback(client: CogniteClient) -> None:
    function = deploy_zip(
        client,
        zip_of({"handler.py": (FUNCTIONS / "import_error" / "handler.py").read_bytes()}),
        "import-error",
    )
    assert function.status == "Failed"
    trace = function.error["trace"]
    assert trace.startswith("Traceback (most recent call last):")
    assert 'handler.py", line 1, in <module>' in trace
    assert "ModuleNotFoundError: No module named 'module_that_does_not_exist'" in trace


def test_handle_that_is_not_callable_fails(client: CogniteClient) -> None:
    function = deploy(client, "uncallable_handle", skip_folder_validation=True)
    assert function.status == "Failed"
    assert function.error["message"] == "handler.py defines no callable 'handle'"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            {"handler.py": HANDLER, "../escape.py": b"x = 1\n"},
            "The code zip has an entry outside its root: '../escape.py'",
        ),
        (
            {"handler.py": HANDLER, "/etc/evil.py": b"x = 1\n"},
            "The code zip has an entry outside its root: '/etc/evil.py'",
        ),
    ],
)
def test_path_escaping_entries_fail(
    client: CogniteClient, entries: dict[str, bytes], expected: str
) -> None:
    function = deploy_zip(client, zip_of(entries), "escapes")
    assert function.status == "Failed"
    assert function.error["message"] == expected


def test_symlink_entry_fails(client: CogniteClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    function = deploy_zip(client, buffer.getvalue(), "links")
    assert function.status == "Failed"
    assert function.error["message"] == "The code zip contains a symbolic link: 'passwd'"


def test_oversized_archives(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(
        {"FNHOST_UPLOAD_MAX_BYTES": "100000", "FNHOST_CODE_MAX_UNPACKED_BYTES": "200000"}
    )
    client = server.client()
    # Compresses to about 1 kB, unpacks to 1 MB.
    bomb = deploy_zip(
        client, zip_of({"handler.py": HANDLER, "zeros.bin": bytes(1_000_000)}), "bomb"
    )
    assert bomb.status == "Failed"
    assert bomb.error["message"] == (
        f"The code zip unpacks to {1_000_000 + len(HANDLER)} bytes; the limit is 200000 "
        "(FNHOST_CODE_MAX_UNPACKED_BYTES)"
    )
    with pytest.raises(CogniteFileUploadError) as raised:
        client.files.upload_bytes(bytes(150_000), name="big.zip")
    assert raised.value.code == 413
    assert "the limit is 100000 (FNHOST_UPLOAD_MAX_BYTES)" in raised.value.message


def test_runtimes_listed_are_usable_and_others_rejected(client: CogniteClient) -> None:
    available = client.functions.limits().runtimes
    other = next(name for name in available if name != "py311")
    function = deploy(client, "ok", runtime=other)
    assert function.status == "Ready", function.error
    assert function.runtime_version.startswith(f"Python 3.{other.removeprefix('py3')}.")
    assert function.call(data={"x": 1}, wait=True).get_response() == {"x": 2}

    missing = [name for name in SUPPORTED if name not in available]
    if not missing:
        pytest.skip("every supported runtime is installed on this machine")
    with pytest.raises(CogniteAPIError) as raised:
        client.functions.create(name="lacks", folder=str(FUNCTIONS / "ok"), runtime=missing[0])
    assert raised.value.code == 400
    assert f"runtime {missing[0]!r} is not available on this server" in raised.value.message
