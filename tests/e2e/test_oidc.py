"""OIDC: a real `fnhost serve` trusting a local identity provider whose keys the test makes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.identity_provider import Client, IdentityProvider, b64, running
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

AUDIENCE = "fnhost-tests"
CLIENT_ID, CLIENT_SECRET = "idp-client", "idp-secret"


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    clients = {CLIENT_ID: Client(CLIENT_SECRET, groups=["writers"])}
    with running(IdentityProvider(AUDIENCE, clients=clients)) as idp:
        yield idp


@pytest.fixture(scope="module")
def oidc_server(
    provider: IdentityProvider, tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[RunningServer]:
    config = provider.oidc_config(
        tmp_path_factory.mktemp("oidc") / "oidc.json",
        {
            "readers": (["demo"], ["functionsAcl:READ", "sessionsAcl:CREATE"]),
            "writers": (["demo"], ["functionsAcl:READ", "functionsAcl:WRITE"]),
        },
    )
    running = RunningServer(
        data_dir=tmp_path_factory.mktemp("oidc-server") / "data",
        environments_dir=environments_dir,
        env={"FNHOST_OIDC_CONFIG": str(config), "FNHOST_OIDC_JWKS_MIN_REFRESH_SECONDS": "0"},
    ).start()
    yield running
    running.stop()


def _get(server: RunningServer, path: str, token: str) -> Any:
    with server.http(token) as http:
        return http.get(path)


def test_valid_token_maps_groups_to_capabilities(
    oidc_server: RunningServer, provider: IdentityProvider
) -> None:
    token = provider.token()
    inspected = _get(oidc_server, "/api/v1/token/inspect", token).json()
    assert inspected["subject"] == "alice"
    assert inspected["projects"] == [{"projectUrlName": "demo", "groups": []}]
    assert inspected["capabilities"] == [
        {
            "functionsAcl": {"actions": ["READ"], "scope": {"all": {}}},
            "projectScope": {"projects": ["demo"]},
        },
        {
            "sessionsAcl": {"actions": ["CREATE"], "scope": {"all": {}}},
            "projectScope": {"projects": ["demo"]},
        },
    ]
    client = oidc_server.client("demo", token=token)
    assert list(client.functions.list()) == []
    with oidc_server.http(token) as http:
        assert http.get("/api/v1/projects/other/functions").status_code == 403
        denied = http.post("/api/v1/projects/demo/files", json={"name": "x.zip"})
        assert denied.status_code == 403
        assert "functionsAcl" not in denied.json()["error"]["message"]


def _forged(provider: IdentityProvider) -> str:
    provider.add_key("attacker", publish=False)
    token = provider.token(kid="attacker")
    _header, body, signature = token.split(".")
    fake_header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    return f"{fake_header}.{body}.{signature}"


def _hs256_with_public_key(provider: IdentityProvider) -> str:
    public = provider.keys["k1"].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return provider.unsigned("HS256", secret=pem)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_forged, id="forged signature"),
        pytest.param(lambda p: p.token(exp=int(time.time()) - 600), id="expired"),
        pytest.param(lambda p: p.token(aud="someone-else"), id="wrong audience"),
        pytest.param(lambda p: p.token(iss="http://127.0.0.1:1/evil"), id="untrusted issuer"),
        pytest.param(lambda p: p.token(nbf=int(time.time()) + 3600), id="not yet valid"),
        pytest.param(lambda p: p.token(exp=None), id="no exp"),
        pytest.param(lambda p: p.unsigned("none"), id="alg none"),
        pytest.param(_hs256_with_public_key, id="hs256 with the public key"),
    ],
)
def test_bad_tokens_get_401(
    oidc_server: RunningServer, provider: IdentityProvider, make: Any
) -> None:
    response = _get(oidc_server, "/api/v1/projects/demo/functions", make(provider))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.json()["error"]["message"]


def test_new_signing_key_is_fetched_on_first_sight(
    oidc_server: RunningServer, provider: IdentityProvider
) -> None:
    assert _get(oidc_server, "/api/v1/token/inspect", provider.token()).status_code == 200
    fetches = provider.jwks_fetches
    assert _get(oidc_server, "/api/v1/token/inspect", provider.token()).status_code == 200
    assert provider.jwks_fetches == fetches  # cached
    provider.add_key("k2")
    assert _get(oidc_server, "/api/v1/token/inspect", provider.token(kid="k2")).status_code == 200
    assert provider.jwks_fetches == fetches + 1


def test_client_credentials_are_checked_by_the_identity_provider(
    oidc_server: RunningServer, provider: IdentityProvider
) -> None:
    with oidc_server.http(provider.token()) as http:
        created = http.post(
            "/api/v1/projects/demo/sessions",
            json={"items": [{"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}]},
        )
        assert created.status_code == 201, created.text
        assert created.json()["items"][0]["type"] == "CLIENT_CREDENTIALS"
        refused = http.post(
            "/api/v1/projects/demo/sessions",
            json={"items": [{"clientId": CLIENT_ID, "clientSecret": "wrong"}]},
        )
        assert refused.status_code == 400
        assert "refused the client credentials" in refused.json()["error"]["message"]
