"""Issued tokens and registered clients through the CLI and the real SDK; secrets at rest."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import OAuthClientCredentials
from cognite.client.exceptions import CogniteProjectAccessError
from cryptography.fernet import Fernet

from tests.conftest import deploy
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e


def fnhost(server: RunningServer, *args: str) -> list[str]:
    """Run the `fnhost` CLI on the server's data directory; its output lines."""
    done = subprocess.run(
        [sys.executable, "-m", "fnhost", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("FNHOST_")},
    )
    return done.stdout.strip().splitlines()


def test_issued_token_works_until_revoked(server: RunningServer) -> None:
    project = f"tok-{uuid.uuid4().hex[:8]}"
    lines = fnhost(
        server,
        "token",
        "issue",
        "--project",
        project,
        "--capability",
        "functionsAcl:READ",
        "--expires-in",
        "1d",
        "--subject",
        "ci-reader",
    )
    token = lines[-1]
    client = server.client(project, token=token)
    assert list(client.functions.list()) == []
    with server.http(token) as http:
        assert http.get("/api/v1/token/inspect").json()["subject"] == "ci-reader"
        assert http.get("/api/v1/projects/other/functions").status_code == 403
        assert http.post(f"/api/v1/projects/{project}/files", json={"name": "x"}).status_code == 403
    (row,) = [line for line in fnhost(server, "token", "list") if "ci-reader" in line]
    fnhost(server, "token", "revoke", row.split("\t")[0])
    with server.http(token) as http:
        refused = http.get(f"/api/v1/projects/{project}/functions")
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid, revoked or expired bearer token"


def test_registered_client_calls_with_the_sdk_and_its_function_gets_only_its_grants(
    server: RunningServer,
) -> None:
    project = f"cc-{uuid.uuid4().hex[:8]}"
    admin = server.client(project)
    function = deploy(admin, "probe_access", secrets={"api-key": "probe-secret"})
    assert function.status == "Ready", function.error
    lines = fnhost(
        server,
        "client",
        "create",
        "--project",
        project,
        "--capability",
        "functionsAcl:READ",
        "--capability",
        "functionsAcl:RUN",
        "--capability",
        "sessionsAcl:CREATE",
    )
    client_id, secret = (line.split(": ", 1)[1] for line in lines[-2:])
    client = CogniteClient(
        ClientConfig(
            client_name="cc-test",
            project=project,
            base_url=server.url,
            credentials=OAuthClientCredentials(
                token_url=f"{server.url}/oauth2/token",
                client_id=client_id,
                client_secret=secret,
                scopes=[],
            ),
        )
    )
    call = client.functions.call(id=function.id, data={}, wait=True)
    assert call.status == "Completed", call.error
    assert call.get_response() == {
        "secrets_via_api": {"api-key": "***"},
        "secret_digests": {"api-key": hashlib.sha256(b"probe-secret").hexdigest()},
        "list_functions": 200,
        "upload_file": 403,
        "other_project": 403,
    }
    with server.http() as http:
        calls = http.post(
            f"/api/v1/projects/{project}/functions/{function.id}/calls/byids",
            json={"items": [{"id": call.id}]},
        )
        session_id = _session_of(server, call.id)
        sessions = http.post(
            f"/api/v1/projects/{project}/sessions/byids", json={"items": [{"id": session_id}]}
        )
    assert calls.status_code == 200
    assert sessions.json()["items"][0]["type"] == "CLIENT_CREDENTIALS"
    assert sessions.json()["items"][0]["clientId"] == client_id
    fnhost(server, "client", "revoke", client_id)
    with pytest.raises(CogniteProjectAccessError):  # 401: its token was revoked too
        client.functions.list()


def _session_of(server: RunningServer, call_id: int) -> int:
    with sqlite3.connect(server.data_dir / "fnhost.db") as db:
        (session_id,) = db.execute(
            "SELECT session_id FROM calls WHERE id = ?", (call_id,)
        ).fetchone()
    return int(session_id)


def test_secrets_are_sealed_with_the_configured_key_and_never_logged(
    make_server: Callable[..., RunningServer],
) -> None:
    key = Fernet.generate_key().decode()
    server = make_server({"FNHOST_SECRET_KEY": key})
    client = server.client()
    value = f"never-shown-{uuid.uuid4().hex}"
    function = deploy(client, "probe_access", secrets={"api-key": value})
    assert function.secrets == {"api-key": "***"}
    call = function.call(data={}, wait=True)
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert call.get_response()["secret_digests"] == {"api-key": digest}
    assert not (server.data_dir / "secret.key").exists()
    assert value not in server.logs()
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path


def test_a_call_token_stops_working_when_its_call_ends(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    client = server.client("call-token")
    function = deploy(client, "leaks_token")
    call = function.call(wait=True)
    assert call.status == "Completed", call.error
    token = call.get_response()["token"]
    assert token.startswith("fnc1:")
    with server.http(token=token) as http:
        response = http.get("/api/v1/projects/call-token/functions/limits")
    assert response.status_code == 401
    assert "has ended" in response.json()["error"]["message"]
