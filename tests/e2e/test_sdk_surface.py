"""The SDK's files, data sets and sessions methods a functions user reaches for, against a real
server: code uploaded with `files.upload` (multipart) deploys and runs, data sets are updated
and filtered, sessions are listed by status."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import DataSetUpdate, DataSetWrite

from tests.conftest import FUNCTIONS
from tests.servers import wait_until

pytestmark = pytest.mark.e2e


def test_code_uploaded_with_files_upload_deploys_and_runs(
    client: CogniteClient, tmp_path: Path
) -> None:
    code = Path(shutil.make_archive(str(tmp_path / "code"), "zip", FUNCTIONS / "ok"))
    uploaded = client.files.upload(str(code), name="code.zip", external_id="code")
    function = client.functions.create(name="from-file", file_id=uploaded.id)
    ready = wait_until(
        lambda: (
            (f := client.functions.retrieve(id=function.id))
            and f.status in ("Ready", "Failed")
            and f
        )
    )
    assert ready.status == "Ready", ready.error
    call = ready.call(data={"x": 1}, wait=True)
    assert call.get_response() == {"x": 2}

    # New bytes for the file (an upload link) leave the deployed function's snapshot alone.
    client.files.upload_content_bytes(b"not a zip", external_id="code")
    assert client.files.download_bytes(external_id="code") == b"not a zip"
    assert ready.call(data={"x": 2}, wait=True).get_response() == {"x": 3}

    listed = client.files.list(external_id_prefix="co", uploaded=True)
    assert [file.id for file in listed] == [uploaded.id]
    assert client.files.aggregate_count(filter={"external_id_prefix": "co"}) == 1


def test_data_sets_are_updated_and_filtered(client: CogniteClient) -> None:
    client.data_sets.create(DataSetWrite(external_id="fn", name="Fn", metadata={"k": "v"}))
    client.data_sets.update(
        DataSetUpdate(external_id="fn")
        .description.set("Function code")
        .metadata.add({"team": "core"})
        .metadata.remove(["k"])
    )
    changed = client.data_sets.retrieve(external_id="fn")
    assert changed is not None
    assert (changed.name, changed.description) == ("Fn", "Function code")
    assert changed.metadata == {"team": "core"}
    assert [d.external_id for d in client.data_sets.list(metadata={"team": "core"})] == ["fn"]
    assert client.data_sets.list(metadata={"k": "v"}) == []

    client.data_sets.update(DataSetWrite(external_id="fn", name="Renamed"), mode="replace")
    replaced = client.data_sets.retrieve(external_id="fn")
    assert replaced is not None
    assert (replaced.name, replaced.description) == ("Renamed", None)
    assert not replaced.metadata
    assert client.data_sets.aggregate_count(filter={"external_id_prefix": "f"}) == 1


def test_sessions_are_listed_by_status(client: CogniteClient) -> None:
    kept = client.iam.sessions.create()
    revoked = client.iam.sessions.create()
    client.iam.sessions.revoke(revoked.id)

    assert [s.id for s in client.iam.sessions.list(status="READY")] == [kept.id]
    assert [s.id for s in client.iam.sessions.list(status="REVOKED")] == [revoked.id]
    assert [s.id for s in client.iam.sessions.list(limit=None)] == [kept.id, revoked.id]
