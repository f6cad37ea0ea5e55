"""Real Cognite functions against an upstream CDF: a real `fnhost serve` with a stand-in identity
provider and a stand-in upstream CDF, driven by the real cognite-sdk.

Each identity (the SDK's caller, the schedule's client, a user with a token) is a subject of its
own at the identity provider, so what the upstream saw is told apart by the token's subject even
while the schedule's tick runs during the other tests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import CredentialProvider, OAuthClientCredentials, Token
from cognite.client.data_classes import ClientCredentials, Function, FunctionSchedule

from fnhost.services.identity import NOT_FORWARDED
from tests import identity_provider, upstream_cdf
from tests.conftest import deploy
from tests.e2e.test_sdk_schedules import finished_call, first_tick_after
from tests.e2e.test_sdk_versions import assert_workflow, run_workflow
from tests.identity_provider import Client, IdentityProvider
from tests.servers import ADMIN_TOKEN, RunningServer
from tests.upstream_cdf import Seen, UpstreamCdf

# One worker for the module (`--dist loadgroup`): one server, one upstream, and the schedule's
# tick running while the other tests do.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.xdist_group("gateway")]

PROJECT = "demo"
AUDIENCE = "https://cdf.example"
CDF_SCOPE = f"{AUDIENCE}/.default"  # what fnhost asks for (the issuer config's scopes)
CALLER, SCHEDULER = "caller-app", "scheduler-app"
SECRETS = {CALLER: "caller-secret", SCHEDULER: "scheduler-secret"}


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    clients = {name: Client(secret, groups=["writers"]) for name, secret in SECRETS.items()}
    # Tokens last an hour, as most providers': longer than a call may run, so they are reused.
    with identity_provider.running(
        IdentityProvider(AUDIENCE, clients=clients, token_seconds=3600)
    ) as idp:
        yield idp


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamCdf]:
    with upstream_cdf.running(UpstreamCdf()) as running:
        yield running


@pytest.fixture(scope="module")
def gateway_server(
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    tmp_path_factory: pytest.TempPathFactory,
    environments_dir: Path,
) -> Iterator[RunningServer]:
    capabilities = [
        *("functionsAcl:READ", "functionsAcl:WRITE", "functionsAcl:RUN", "sessionsAcl:CREATE"),
        *("filesAcl:READ", "filesAcl:WRITE"),
    ]
    writers = ([PROJECT], capabilities)
    config = provider.oidc_config(
        tmp_path_factory.mktemp("gateway") / "oidc.json", {"writers": writers}, (CDF_SCOPE,)
    )
    running = RunningServer(
        data_dir=tmp_path_factory.mktemp("gateway-server") / "data",
        environments_dir=environments_dir,
        env={"FNHOST_OIDC_CONFIG": str(config), "FNHOST_UPSTREAM_URL": upstream.url},
    ).start()
    yield running
    running.stop()


def sdk(server: RunningServer, credentials: CredentialProvider) -> CogniteClient:
    return CogniteClient(
        ClientConfig(
            client_name="gateway-tests",
            project=PROJECT,
            base_url=server.url,
            credentials=credentials,
        )
    )


def client_credentials(provider: IdentityProvider, client_id: str) -> OAuthClientCredentials:
    # The SDK asks for a scope of its own, so its token requests are told from fnhost's.
    return OAuthClientCredentials(
        token_url=f"{provider.url}/token",
        client_id=client_id,
        client_secret=SECRETS[client_id],
        scopes=["sdk"],
    )


@pytest.fixture(scope="module")
def function(gateway_server: RunningServer) -> Function:
    deployed = deploy(sdk(gateway_server, Token(ADMIN_TOKEN)), "cdf_data")
    assert deployed.status == "Ready", deployed.error
    return deployed


@pytest.fixture(scope="module")
def schedule(gateway_server: RunningServer, function: Function) -> FunctionSchedule:
    """A schedule made first, so that its tick runs while the other tests do. Its creator is
    the admin (fnhost's token): the schedule acts with the client credentials it names."""
    admin = sdk(gateway_server, Token(ADMIN_TOKEN))
    return admin.functions.schedules.create(
        name="every minute",
        cron_expression="* * * * *",
        function_id=function.id,
        data={"external_id": "tick-level"},
        client_credentials=ClientCredentials(SCHEDULER, SECRETS[SCHEDULER]),
    )


def subject_of(provider: IdentityProvider, seen: Seen) -> str:
    """The subject of the one bearer token the upstream got: a token the provider signed (an
    fnhost token fails here)."""
    (authorization,) = seen.header("authorization")
    scheme, _, token = authorization.partition(" ")
    assert scheme == "Bearer"
    return str(provider.issued(token)["sub"])


def seen_from(
    provider: IdentityProvider, upstream: UpstreamCdf, subject: str, since: int = 0
) -> list[Seen]:
    return [s for s in upstream.requests[since:] if subject_of(provider, s) == subject]


def fnhost_token_requests(provider: IdentityProvider, client_id: str) -> int:
    return sum(
        1
        for form in provider.token_requests
        if form.get("client_id") == client_id and form.get("scope") == CDF_SCOPE
    )


def assert_did_the_work(response: dict[str, Any], external_id: str) -> None:
    assert response["project"] == PROJECT
    assert response["created"] == external_id
    assert external_id in response["listed"]
    assert response["refused"] == {
        "type": "CogniteAPIError",
        "code": 403,
        "message": "Resource not available: no access",
    }
    assert response["functions"] == ["cdf_data"]  # fnhost's own API, same client and token


def assert_datapoints_of(upstream: UpstreamCdf, external_id: str) -> None:
    (inserted,) = [item for item in upstream.datapoints if item.get("externalId") == external_id]
    assert [point["value"] for point in inserted["datapoints"]] == [1.5, 2.5]


def test_a_function_works_on_cdf_data_with_the_identity_providers_token(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
    schedule: FunctionSchedule,
) -> None:
    caller = sdk(gateway_server, client_credentials(provider, CALLER))
    asked_before = fnhost_token_requests(provider, CALLER)
    since = len(upstream.requests)

    call = caller.functions.call(id=function.id, data={"external_id": "level-1"}, wait=True)

    assert call.status == "Completed", call.error
    assert_did_the_work(call.get_response(), "level-1")
    assert_datapoints_of(upstream, "level-1")
    seen = seen_from(provider, upstream, CALLER, since)
    assert [(s.method, s.path.removeprefix(f"/api/v1/projects/{PROJECT}/")) for s in seen] == [
        ("POST", "timeseries"),
        ("POST", "timeseries/list"),
        ("POST", "timeseries/data"),
        ("POST", "timeseries/byids"),
    ]
    # The SDK's session was checked with the provider once; the call's token came from that.
    assert fnhost_token_requests(provider, CALLER) == asked_before + 1


def test_a_token_exchange_session_lends_the_callers_own_token(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
) -> None:
    token = provider.token(sub="alice", groups=["writers"])
    since = len(upstream.requests)

    call = sdk(gateway_server, Token(token)).functions.call(
        id=function.id, data={"external_id": "level-alice"}, wait=True
    )

    assert call.status == "Completed", call.error
    assert_did_the_work(call.get_response(), "level-alice")
    seen = seen_from(provider, upstream, "alice", since)
    assert len(seen) == 4
    assert {authorization for s in seen for authorization in s.header("authorization")} == {
        f"Bearer {token}"
    }


def test_a_call_whose_captured_token_expired_fails_saying_so(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
) -> None:
    # Expired a moment ago: still within the leeway fnhost allows for clock skew when it checks
    # the token of a request, as when a call waited past its session's token.
    token = provider.token(sub="bob", groups=["writers"], exp=int(time.time()) - 5)

    call = sdk(gateway_server, Token(token)).functions.call(
        id=function.id, data={"external_id": "level-bob"}, wait=True
    )

    assert call.status == "Failed"
    message = call.error["message"]
    assert "token from the identity provider, which expired" in message
    assert "client credentials" in message
    assert seen_from(provider, upstream, "bob") == []


def test_fnhost_tokens_are_never_forwarded(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
) -> None:
    since = len(upstream.requests)
    with gateway_server.http(ADMIN_TOKEN) as http:
        refused = http.get(f"/api/v1/projects/{PROJECT}/timeseries")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": 403, "message": NOT_FORWARDED}

    # A call of the admin's session holds a call token of fnhost's: its client gets the same.
    call = sdk(gateway_server, Token(ADMIN_TOKEN)).functions.call(
        id=function.id, data={"external_id": "level-admin"}, wait=True
    )
    assert call.status == "Failed"
    assert "CogniteAPIError" in call.error["message"]
    assert "never leave fnhost" in call.error["message"]
    assert "code: 403" in call.error["message"]
    others = [s for s in upstream.requests[since:] if subject_of(provider, s) != SCHEDULER]
    assert others == []


def test_the_functions_api_works_unchanged_with_an_upstream(
    gateway_server: RunningServer,
) -> None:
    assert_workflow(run_workflow(sys.executable, gateway_server, "workflow"))


def test_a_schedule_tick_works_on_cdf_data_with_its_client_credentials(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
    schedule: FunctionSchedule,
) -> None:
    admin = sdk(gateway_server, Token(ADMIN_TOKEN))
    assert schedule.created_time is not None and schedule.id is not None
    tick = first_tick_after(schedule.created_time)

    call = finished_call(admin, function.id, schedule.id, tick)

    assert call.status == "Completed", call.error
    assert_did_the_work(call.get_response(), "tick-level")
    assert_datapoints_of(upstream, "tick-level")
    assert len(seen_from(provider, upstream, SCHEDULER)) == 4
    # One check when the schedule's session was made; the tick's token came from it.
    assert fnhost_token_requests(provider, SCHEDULER) == 1


@pytest.fixture(scope="module")
def upstream_traffic(
    gateway_server: RunningServer,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    function: Function,
) -> UpstreamCdf:
    """The upstream after a call of this test's own reached it, so that what it saw can be
    audited whichever of the tests above ran before on this worker (xdist spreads a module's
    tests over workers, each with its own server)."""
    caller = sdk(gateway_server, client_credentials(provider, CALLER))
    call = caller.functions.call(id=function.id, data={"external_id": "level-audit"}, wait=True)
    assert call.status == "Completed", call.error
    return upstream


def test_every_request_the_upstream_got_carried_a_token_of_the_identity_provider(
    provider: IdentityProvider, upstream_traffic: UpstreamCdf
) -> None:
    upstream = upstream_traffic
    assert upstream.requests
    assert {subject_of(provider, seen) for seen in upstream.requests} <= {
        CALLER,
        SCHEDULER,
        "alice",
    }


def test_no_token_or_client_secret_is_logged_or_stored_in_the_clear(
    gateway_server: RunningServer, upstream_traffic: UpstreamCdf
) -> None:
    tokens = {
        seen.header("authorization")[0].removeprefix("Bearer ")
        for seen in upstream_traffic.requests
    }
    assert tokens
    logs = gateway_server.logs()
    stored = [path.read_bytes() for path in gateway_server.data_dir.rglob("*") if path.is_file()]
    for secret in tokens | set(SECRETS.values()):
        assert secret not in logs
        assert not any(secret.encode() in content for content in stored)


def test_without_an_upstream_the_404_says_why(server: RunningServer) -> None:
    with server.http() as http:
        response = http.post("/api/v1/projects/any/timeseries/list", json={})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "No upstream CDF is configured for project 'any' (FNHOST_UPSTREAM_URL)" in message
