"""Spec section 6 workflows through the real cognite-sdk against a real `fnhost serve`."""

from __future__ import annotations

import io
import zipfile

import pytest
from cognite.client import CogniteClient
from cognite.client.exceptions import CogniteDuplicatedError, CogniteNotFoundError

from tests.conftest import FUNCTIONS, deploy
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e


def zip_folder(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((FUNCTIONS / folder).rglob("*")):
            archive.write(path, path.relative_to(FUNCTIONS / folder).as_posix())
    return buffer.getvalue()


def upload(client: CogniteClient, content: bytes, name: str = "code.zip") -> int:
    return client.files.upload_bytes(content, name=name).id


def test_create_from_folder_call_response_and_logs(client: CogniteClient) -> None:
    function = client.functions.create(
        name="echo",
        folder=str(FUNCTIONS / "echo_all"),
        external_id="echo",
        secrets={"api-key": "s3cret"},
        env_vars={"GREETING": "hi"},
        metadata={"k": "v"},
        description="echoes",
        owner="me@example.com",
    )
    assert function.status == "Queued"
    assert function.secrets == {"api-key": "***"}
    ready = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status == "Ready" and f
    )
    assert ready.runtime_version and ready.runtime_version.startswith("Python 3.")

    call = ready.call(data={"n": 1}, wait=True)
    assert call.status == "Completed", call.error
    response = call.get_response()
    assert response["data"] == {"n": 1}
    assert response["secrets"] == {"api-key": "s3cret"}
    assert response["info"] == {"function_id": function.id, "call_id": call.id}
    assert response["env"] == "hi"
    assert response["client"] == "CogniteClient"
    assert response["project"] == client.config.project
    assert response["functions_seen"] == [function.id]
    messages = [entry.message for entry in call.get_logs()]
    assert "got {'n': 1}" in messages
    assert any("a warning via logging" in m for m in messages)
    assert all(entry.timestamp for entry in call.get_logs())


def test_round_trip_fields_exactly_as_sent(client: CogniteClient) -> None:
    metadata = {"cognite-toolkit-hash": "/=abc:123", "x": " spaced "}
    function = client.functions.create(
        name="my/fn",
        folder=str(FUNCTIONS / "ok"),
        external_id="rt",
        metadata=metadata,
        description="  desc ",
        owner="Owner Name",
        env_vars={"A_B": "1"},
    )
    again = client.functions.retrieve(external_id="rt")
    for got in (function, again):
        assert got.name == "my/fn"
        assert got.metadata == metadata
        assert got.description == "  desc "
        assert got.owner == "Owner Name"
        assert got.env_vars == {"A_B": "1"}


def test_create_from_function_handle(client: CogniteClient) -> None:
    def handle(data):
        return {"doubled": data["v"] * 2}

    function = client.functions.create(name="from-handle", function_handle=handle)
    function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status == "Ready" and f
    )
    assert function.call(data={"v": 21}, wait=True).get_response() == {"doubled": 42}


def test_create_from_file_id_and_snapshot(client: CogniteClient) -> None:
    file = client.files.upload_bytes(
        zip_folder("ok"), name="code.zip", external_id="code", overwrite=True
    )
    function = client.functions.create(name="from-file", file_id=file.id)
    function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status == "Ready" and f
    )
    # A later upload to the same file never changes the deployed function.
    client.files.upload_bytes(
        zip_folder("raises"), name="code.zip", external_id="code", overwrite=True
    )
    call = function.call(data={"x": 41}, wait=True)
    assert call.get_response() == {"x": 42}


def test_nested_function_path(client: CogniteClient) -> None:
    function = deploy(client, "nested", function_path="pkg/main.py")
    assert function.status == "Ready", function.error
    assert function.call(data={"x": 4}, wait=True).get_response() == {"doubled": 8}


def test_zip_with_single_top_level_folder(client: CogniteClient) -> None:
    function = client.functions.create(
        name="wrapped", file_id=upload(client, zip_folder("wrapped"))
    )
    function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status in ("Ready", "Failed") and f
    )
    assert function.status == "Ready", function.error
    assert function.call(wait=True).get_response() == {"wrapped": True}


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("no_handle", "must define a top-level function named 'handle'"),
        ("bad_params", "'handle' has parameter(s) context"),
        ("syntax_error", "syntax error at line 1"),
        ("import_error", "No module named 'module_that_does_not_exist'"),
    ],
)
def test_invalid_code_fails_the_deploy(client: CogniteClient, folder: str, expected: str) -> None:
    function = client.functions.create(name=folder, file_id=upload(client, zip_folder(folder)))
    function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status in ("Ready", "Failed") and f
    )
    assert function.status == "Failed"
    assert expected in function.error["message"]


def test_missing_handler_file_fails_with_clear_message(client: CogniteClient) -> None:
    function = client.functions.create(
        name="wrong-path", file_id=upload(client, zip_folder("ok")), function_path="main.py"
    )
    function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status in ("Ready", "Failed") and f
    )
    assert function.status == "Failed"
    assert 'No Python module found at location "main.py"' in function.error["message"]


def test_call_before_ready_waits_and_call_of_failed_deploy_fails(client: CogniteClient) -> None:
    good = client.functions.create(name="early", folder=str(FUNCTIONS / "ok"))
    early_call = client.functions.call(id=good.id, data={"x": 1}, wait=True)
    assert early_call.status == "Completed"
    assert early_call.get_response() == {"x": 2}

    bad = client.functions.create(name="bad", file_id=upload(client, zip_folder("syntax_error")))
    failed_call = client.functions.call(id=bad.id, data={}, wait=True)
    assert failed_call.status == "Failed"
    assert "deployment failed" in failed_call.error["message"]
    assert "syntax error" in failed_call.error["message"]


def test_duplicate_external_id_leaves_existing_function(client: CogniteClient) -> None:
    original = deploy(client, "ok", external_id="dup", description="first")
    with pytest.raises(CogniteDuplicatedError) as raised:
        client.functions.create(name="other", folder=str(FUNCTIONS / "raises"), external_id="dup")
    assert raised.value.duplicated == [{"externalId": "dup"}]
    still = client.functions.retrieve(external_id="dup")
    assert still.id == original.id and still.description == "first"
    # Its code did not change although the SDK overwrote the code file first.
    assert still.call(data={"x": 1}, wait=True).get_response() == {"x": 2}


def test_retrieve_unknown_returns_none_and_list_filter(client: CogniteClient) -> None:
    assert client.functions.retrieve(id=123456789) is None
    assert client.functions.retrieve(external_id="nope") is None
    with pytest.raises(CogniteNotFoundError):
        client.functions.retrieve_multiple(ids=[123456789])
    assert client.functions.retrieve_multiple(ids=[123456789], ignore_unknown_ids=True) == []
    a = client.functions.create(
        name="a", folder=str(FUNCTIONS / "ok"), external_id="pre-a", owner="o1"
    )
    client.functions.create(
        name="b", folder=str(FUNCTIONS / "ok"), external_id="other-b", owner="o2"
    )
    assert {f.name for f in client.functions.list(limit=-1)} == {"a", "b"}
    assert [f.id for f in client.functions.list(external_id_prefix="pre-")] == [a.id]
    assert [f.id for f in client.functions.list(owner="o1")] == [a.id]
    assert len(client.functions.list(limit=1)) == 1


def test_calls_list_filter_and_pages(client: CogniteClient) -> None:
    function = deploy(client, "ok")
    calls = [function.call(data={"x": i}, wait=False) for i in range(7)]
    failed = function.call(data={}, wait=True)
    assert failed.status == "Failed"
    for call in calls:
        call.wait()
    everything = client.functions.calls.list(function_id=function.id, limit=-1)
    assert len(everything) == 8
    completed = client.functions.calls.list(function_id=function.id, status="Completed", limit=-1)
    assert {c.id for c in completed} == {c.id for c in calls}
    assert [
        c.id for c in client.functions.calls.list(function_id=function.id, status="Failed")
    ] == [failed.id]
    # Raw paging: pages of 3 follow nextCursor to the end without repeats.
    with_cursor, cursor, pages = [], None, 0
    while True:
        body = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.post(
            f"/api/v1/projects/{client.config.project}/functions/{function.id}/calls/list",
            json=body,
        ).json()
        with_cursor += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert pages == 3 and sorted(with_cursor) == sorted(c.id for c in everything)
    assert client.functions.calls.retrieve(call_id=999999, function_id=function.id) is None


def test_call_failure_paths(client: CogniteClient) -> None:
    raises = deploy(client, "raises")
    call = raises.call(data={"v": 3}, wait=True)
    assert call.status == "Failed"
    assert call.error["message"] == "ValueError: bad value 3"
    assert 'handler.py", line 2, in helper' in call.error["trace"]
    assert "fnhost" not in call.error["trace"].split("\n")[1]
    assert call.get_response() is None
    assert "about to fail" in [e.message for e in call.get_logs()]

    exits = deploy(client, "exits")
    call = exits.call(data={"code": 7}, wait=True)
    assert call.status == "Failed"
    assert "exited with code 7" in call.error["message"]

    killed = deploy(client, "killed")
    call = killed.call(wait=True)
    assert call.status == "Failed"
    assert "killed by SIGKILL" in call.error["message"]

    not_json = deploy(client, "not_json")
    call = not_json.call(wait=True)
    assert call.status == "Failed"
    assert "not JSON" in call.error["message"]

    big = deploy(client, "big_response")
    assert big.call(data={"size": 1000}, wait=True).status == "Completed"
    call = big.call(data={"size": 2 * 1024 * 1024}, wait=True)
    assert call.status == "Failed"
    assert "the limit is 1048576 bytes" in call.error["message"]


def test_timeout_kills_the_process_group(client: CogniteClient, server: RunningServer) -> None:
    function = deploy(client, "sleeps")
    call = function.call(data={"seconds": 300}, wait=True)
    assert call.status == "Timeout"
    assert "time limit of 5 seconds" in call.error["message"]
    assert call.end_time - call.start_time < 15_000
    assert "sleeping" in [e.message for e in call.get_logs()]


def test_logs_readable_while_running_and_capped(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"FNHOST_CALL_LOG_MAX_BYTES": "2000"})
    client = server.client()
    function = deploy(client, "chatty")
    call = function.call(data={"lines": 5, "linger": 8}, wait=False)
    early = wait_until(lambda: len(logs := call.get_logs()) == 5 and logs, timeout=8)
    call.update()
    assert call.status == "Running"  # the logs were read while the call still ran
    assert [e.message for e in early] == [f"line {i}" for i in range(5)]
    call.wait()
    capped = function.call(data={"lines": 1000, "stderr": True}, wait=True)
    messages = [e.message for e in capped.get_logs()]
    assert "log output truncated" in messages[-1]
    assert len(messages) < 300


def test_limits_status_activate_delete(client: CogniteClient) -> None:
    limits = client.functions.limits()
    assert limits.timeout_minutes == 1
    assert "py311" in limits.runtimes
    assert limits.memory_gb["default"] == 1.5
    assert client.functions.status().status == "activated"
    assert client.functions.activate().status == "activated"
    function = deploy(client, "ok", external_id="gone")
    client.functions.delete(external_id="gone")
    assert client.functions.retrieve(id=function.id) is None
    with pytest.raises(CogniteNotFoundError):
        client.functions.delete(id=function.id)


def test_projects_are_isolated(server: RunningServer, client: CogniteClient) -> None:
    function = deploy(client, "ok", external_id="mine")
    other = server.client("another-project")
    assert other.functions.retrieve(id=function.id) is None
    assert other.functions.retrieve(external_id="mine") is None
    assert function.id not in [f.id for f in other.functions.list(limit=-1)]
