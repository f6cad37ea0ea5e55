"""What a call's `client` acts upstream with: sessions keep the identity provider's credentials
sealed, and lend each call a token of the provider (kept and renewed), or none."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from fnhost.services import identity
from fnhost.store import sessions as sessions_store
from fnhost.store.sessions import SessionRecord
from tests import identity_provider
from tests.identity_provider import Client, IdentityProvider
from tests.integration.apps import InProcess, in_process
from tests.servers import free_port

AUDIENCE = "https://cdf.example"
CLIENT_ID, SECRET = "app", "app-secret"
UPSTREAM = f"http://127.0.0.1:{free_port()}"  # never reached here


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    clients = {CLIENT_ID: Client(SECRET, groups=["members"])}
    idp = IdentityProvider(AUDIENCE, clients=clients, token_seconds=3600)
    with identity_provider.running(idp) as running:
        yield running


def settings(tmp_path: Path, provider: IdentityProvider, **more: Any) -> dict[str, Any]:
    return {
        "oidc_config": provider.oidc_config(
            tmp_path / "oidc.json",
            {"members": (["*"], ["sessionsAcl:CREATE"])},
            (f"{AUDIENCE}/.default",),
        ),
        "upstream_project_urls": {"demo": UPSTREAM},
        **more,
    }


async def session(
    app: InProcess, item: dict[str, Any], project: str = "demo", **headers: str
) -> SessionRecord:
    response = await app.http.post(
        f"/api/v1/projects/{project}/sessions", json={"items": [item]}, headers=headers
    )
    assert response.status_code == 201, response.text
    record = await app.platform.db.run_read(
        partial(sessions_store.by_id, session_id=response.json()["items"][0]["id"])
    )
    assert record is not None
    return record


def asked(provider: IdentityProvider) -> int:
    return len(provider.token_requests)


async def test_a_client_credentials_session_lends_its_calls_a_kept_token(
    tmp_path: Path, provider: IdentityProvider
) -> None:
    async with in_process(tmp_path / "data", **settings(tmp_path, provider)) as app:
        before = asked(provider)
        record = await session(app, {"clientId": CLIENT_ID, "clientSecret": SECRET})
        assert record.upstream_credentials_sealed is not None
        assert SECRET not in record.upstream_credentials_sealed
        assert identity.acts_upstream(app.platform, project="demo", session=record)

        tokens = [
            await identity.upstream_call_token(app.platform, session=record) for _ in range(3)
        ]

        assert {provider.issued(token)["sub"] for token in tokens} == {CLIENT_ID}
        assert asked(provider) == before + 1  # the session's check; its token served all three


@pytest.fixture
async def hour_long_calls(tmp_path: Path, provider: IdentityProvider) -> AsyncIterator[InProcess]:
    """Calls may run an hour: the provider's hour-long tokens never last a whole call from now."""
    more = settings(tmp_path, provider, call_timeout_seconds=3600)
    async with in_process(tmp_path / "data", **more) as app:
        yield app


async def test_a_token_that_would_run_out_during_a_call_is_renewed_before(
    hour_long_calls: InProcess, provider: IdentityProvider
) -> None:
    record = await session(hour_long_calls, {"clientId": CLIENT_ID, "clientSecret": SECRET})
    before = asked(provider)
    for _ in range(2):
        await identity.upstream_call_token(hour_long_calls.platform, session=record)
    assert asked(provider) == before + 2


async def test_a_client_the_provider_refuses_now_fails_the_call_saying_so(
    hour_long_calls: InProcess, provider: IdentityProvider
) -> None:
    record = await session(hour_long_calls, {"clientId": CLIENT_ID, "clientSecret": SECRET})
    client = provider.clients.pop(CLIENT_ID)
    try:
        with pytest.raises(identity.SessionUnusable) as refused:
            await identity.upstream_call_token(hour_long_calls.platform, session=record)
    finally:
        provider.clients[CLIENT_ID] = client
    assert refused.value.message == (
        f"The call's session (id {record.id}) could not get a token from the identity provider: "
        f"The identity provider refused the client credentials of {CLIENT_ID!r} (HTTP 401)"
    )


async def test_a_token_exchange_session_lends_the_callers_token_while_it_is_valid(
    tmp_path: Path, provider: IdentityProvider
) -> None:
    async with in_process(tmp_path / "data", **settings(tmp_path, provider)) as app:
        token = provider.token(groups=["members"])
        record = await session(app, {"tokenExchange": True}, Authorization=f"Bearer {token}")
        assert await identity.upstream_call_token(app.platform, session=record) == token

        # Expired a moment ago, within the leeway a request's token is checked with.
        expired = provider.token(groups=["members"], exp=int(time.time()) - 5)
        record = await session(app, {"tokenExchange": True}, Authorization=f"Bearer {expired}")
        with pytest.raises(
            identity.SessionUnusable, match=r"which expired at .*client credentials"
        ):
            await identity.upstream_call_token(app.platform, session=record)


async def test_fnhost_identities_and_projects_without_an_upstream_keep_fnhost_call_tokens(
    tmp_path: Path, provider: IdentityProvider
) -> None:
    async with in_process(tmp_path / "data", **settings(tmp_path, provider)) as app:
        admin = await session(app, {"tokenExchange": True})
        assert admin.upstream_credentials_sealed is None
        assert not identity.acts_upstream(app.platform, project="demo", session=admin)
        elsewhere = await session(
            app, {"clientId": CLIENT_ID, "clientSecret": SECRET}, project="no-upstream"
        )
        assert elsewhere.upstream_credentials_sealed is not None
        assert not identity.acts_upstream(app.platform, project="no-upstream", session=elsewhere)
