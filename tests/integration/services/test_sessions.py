"""Sessions: token exchange, client credentials, single-use nonces, revocation and expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from fnhost import clock
from fnhost.auth import capabilities as caps
from fnhost.services import clients as clients_service
from fnhost.services import dispatch as dispatch_service
from fnhost.services import identity
from fnhost.services import tokens as tokens_service
from fnhost.store import sessions as sessions_store
from tests.integration.apps import InProcess, in_process, ready_function

PROJECT = "sessions"
BASE = f"/api/v1/projects/{PROJECT}"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        yield running


async def _session(
    app: InProcess, item: dict[str, object], token: str | None = None
) -> dict[str, Any]:
    headers = app.auth(token) if token else {}
    response = await app.http.post(f"{BASE}/sessions", json={"items": [item]}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["items"][0])


async def _client(
    app: InProcess, projects: list[str] | None, granted: list[str]
) -> tuple[str, str]:
    return await clients_service.create(app.platform, projects=projects, capabilities_=granted)


async def test_client_credentials_session_runs_as_the_client(app: InProcess) -> None:
    client_id, secret = await _client(app, [PROJECT], [caps.FUNCTIONS_READ])
    created = await _session(app, {"clientId": client_id, "clientSecret": secret})
    assert created["type"] == "CLIENT_CREDENTIALS"
    assert created["clientId"] == client_id
    function_id = await ready_function(app, PROJECT)
    call = await app.http.post(
        f"{BASE}/functions/{function_id}/call", json={"nonce": created["nonce"]}
    )
    assert call.status_code == 201
    row = await app.platform.db.run_read(partial(sessions_store.by_id, session_id=created["id"]))
    assert row is not None and row.subject == client_id
    assert row.capabilities == [caps.FUNCTIONS_READ]


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"clientId": "fnhost-client-unknown", "clientSecret": "x"}, "Unknown client"),
        ({"clientSecret": "wrong"}, "Invalid client credentials"),
    ],
)
async def test_bad_client_credentials_are_refused(
    app: InProcess, credentials: dict[str, str], message: str
) -> None:
    client_id, _ = await _client(app, [PROJECT], [caps.FUNCTIONS_READ])
    item = {"clientId": client_id} | credentials
    before = await app.snapshot()
    response = await app.http.post(f"{BASE}/sessions", json={"items": [item]})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert await app.snapshot() == before


async def test_client_of_another_project_gets_no_session(app: InProcess) -> None:
    client_id, secret = await _client(app, ["elsewhere"], [caps.FUNCTIONS_READ])
    response = await app.http.post(
        f"{BASE}/sessions", json={"items": [{"clientId": client_id, "clientSecret": secret}]}
    )
    assert response.status_code == 400
    assert "no access to project" in response.json()["error"]["message"]


async def test_revoked_client_gets_no_session(app: InProcess) -> None:
    client_id, secret = await _client(app, [PROJECT], [caps.FUNCTIONS_READ])
    await clients_service.revoke(app.platform, client_id=client_id)
    response = await app.http.post(
        f"{BASE}/sessions", json={"items": [{"clientId": client_id, "clientSecret": secret}]}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("kind", ["tokenExchange", "oneshotTokenExchange"])
async def test_a_nonce_binds_once(app: InProcess, kind: str) -> None:
    function_id = await ready_function(app, PROJECT)
    nonce = (await _session(app, {kind: True}))["nonce"]
    first = await app.http.post(f"{BASE}/functions/{function_id}/call", json={"nonce": nonce})
    second = await app.http.post(f"{BASE}/functions/{function_id}/call", json={"nonce": nonce})
    assert first.status_code == 201
    assert second.status_code == 400
    assert "Failed to bind session" in second.json()["error"]["message"]


async def test_session_captures_only_the_callers_capabilities(app: InProcess) -> None:
    token = await tokens_service.issue(
        app.platform,
        subject="narrow",
        projects=[PROJECT],
        capabilities_=[caps.SESSIONS_CREATE, caps.FUNCTIONS_RUN],
        expires_in=None,
    )
    created = await _session(app, {"tokenExchange": True}, token=token)
    inspected = await app.http.get("/api/v1/token/inspect", headers=app.auth(token))
    assert inspected.json()["subject"] == "narrow"
    row = await app.platform.db.run_read(partial(sessions_store.by_id, session_id=created["id"]))
    assert row is not None
    assert sorted(row.capabilities) == sorted([caps.SESSIONS_CREATE, caps.FUNCTIONS_RUN])


async def test_call_token_carries_the_session_identity_in_its_project_only(
    app: InProcess,
) -> None:
    client_id, secret = await _client(app, None, [caps.FUNCTIONS_READ])
    nonce = (await _session(app, {"clientId": client_id, "clientSecret": secret}))["nonce"]
    function_id = await ready_function(app, PROJECT)
    await app.http.post(f"{BASE}/functions/{function_id}/call", json={"nonce": nonce})
    (job,) = await dispatch_service.claim(app.platform, limit=1, claimant="test")
    principal = await identity.authenticate(app.platform, job.token)
    assert principal.subject == client_id
    assert principal.capabilities_in(PROJECT) == {caps.FUNCTIONS_READ}
    assert not principal.in_project("elsewhere")  # the client has all projects; the call not


async def test_revoked_session_fails_its_call_with_a_clear_error(app: InProcess) -> None:
    function_id = await ready_function(app, PROJECT)
    created = await _session(app, {"tokenExchange": True})
    call = await app.http.post(
        f"{BASE}/functions/{function_id}/call", json={"nonce": created["nonce"]}
    )
    revoked = await app.http.post(
        f"{BASE}/sessions/revoke", json={"items": [{"id": created["id"]}]}
    )
    assert revoked.json()["items"][0]["status"] == "REVOKED"
    assert await dispatch_service.claim(app.platform, limit=1, claimant="test") == []
    failed = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call.json()['id']}")
    assert failed.json()["status"] == "Failed"
    assert "was revoked" in failed.json()["error"]["message"]


async def test_expired_session_fails_its_call_with_a_clear_error(
    app: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    function_id = await ready_function(app, PROJECT)
    created = await _session(app, {"tokenExchange": True})
    call = await app.http.post(
        f"{BASE}/functions/{function_id}/call", json={"nonce": created["nonce"]}
    )
    later = clock.from_ms(created["expirationTime"]) + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert await dispatch_service.claim(app.platform, limit=1, claimant="test") == []
    failed = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call.json()['id']}")
    assert "has expired" in failed.json()["error"]["message"]


async def test_token_endpoint_issues_tokens_to_registered_clients(app: InProcess) -> None:
    client_id, secret = await _client(app, [PROJECT], [caps.FUNCTIONS_READ])
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    issued = await app.http.post("/oauth2/token", data=form, headers={"Authorization": ""})
    assert issued.status_code == 200
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    listed = await app.http.get(f"{BASE}/functions", headers=app.auth(body["access_token"]))
    assert listed.status_code == 200
    await clients_service.revoke(app.platform, client_id=client_id)
    refused = await app.http.get(f"{BASE}/functions", headers=app.auth(body["access_token"]))
    assert refused.status_code == 401
    again = await app.http.post("/oauth2/token", data=form, headers={"Authorization": ""})
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"


async def test_token_endpoint_refuses_other_grants(app: InProcess) -> None:
    response = await app.http.post("/oauth2/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def _listed(app: InProcess, **params: object) -> list[dict[str, Any]]:
    """Every session `GET /sessions` lists with `params`, a page of one at a time."""
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await app.http.get(f"{BASE}/sessions", params=query)
        assert page.status_code == 200, page.text
        listed += page.json()["items"]
        cursor = page.json().get("nextCursor")
        if cursor is None:
            return listed


async def test_sessions_are_listed_by_status_in_pages(
    app: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await _session(app, {"tokenExchange": True})
    active = await _session(app, {"tokenExchange": True})
    function_id = await ready_function(app, PROJECT)
    call = await app.http.post(
        f"{BASE}/functions/{function_id}/call", json={"nonce": active["nonce"]}
    )
    assert call.status_code == 201
    revoked = await _session(app, {"tokenExchange": True})
    await app.http.post(f"{BASE}/sessions/revoke", json={"items": [{"id": revoked["id"]}]})
    await app.http.post(
        "/api/v1/projects/elsewhere/sessions", json={"items": [{"tokenExchange": True}]}
    )

    def ids(sessions: list[dict[str, Any]]) -> list[int]:
        return [session["id"] for session in sessions]

    assert ids(await _listed(app)) == [ready["id"], active["id"], revoked["id"]]
    assert ids(await _listed(app, status="READY")) == [ready["id"]]
    assert ids(await _listed(app, status="ACTIVE")) == [active["id"]]
    assert [(s["id"], s["status"]) for s in await _listed(app, status="REVOKED")] == [
        (revoked["id"], "REVOKED")
    ]
    assert await _listed(app, status="EXPIRED") == []

    later = clock.from_ms(ready["expirationTime"]) + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert await _listed(app, status="READY") == []
    expired = await _listed(app, status="EXPIRED")
    assert [(s["id"], s["status"]) for s in expired] == [
        (ready["id"], "EXPIRED"),
        (active["id"], "EXPIRED"),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "SLEEPING"}, "status"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "Invalid cursor"),
    ],
)
async def test_sessions_list_refuses_bad_parameters(
    app: InProcess, params: dict[str, object], expected: str
) -> None:
    response = await app.http.get(f"{BASE}/sessions", params=params)
    assert response.status_code == 400
    assert expected in response.json()["error"]["message"]
