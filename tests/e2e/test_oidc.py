"""OIDC: a real `fnhost serve` trusting a local identity provider whose keys the test makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

AUDIENCE = "fnhost-tests"
CLIENT_ID, CLIENT_SECRET = "idp-client", "idp-secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IdentityProvider:
    """A JWKS endpoint and a client-credentials token endpoint on 127.0.0.1."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    jwks_fetches: int = 0
    url: str = ""

    def add_key(self, kid: str, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        keys = []
        for kid in self.published:
            jwk = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            keys.append(jwk | {"kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "groups": ["readers"],
        }
        return {k: v for k, v in (base | changes).items() if v is not None}

    def token(self, kid: str = "k1", **changes: Any) -> str:
        return jwt.encode(self.claims(**changes), self.keys[kid], "RS256", headers={"kid": kid})

    def unsigned(self, alg: str, secret: bytes = b"") -> str:
        """A token with `alg` none (no signature) or HS256 keyed with `secret`."""
        header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
        body = _b64(json.dumps(self.claims()).encode())
        signing_input = f"{header}.{body}".encode()
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b""
        return f"{header}.{body}.{_b64(signature)}"


def _serve(provider: IdentityProvider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._json(200, provider.jwks())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                self._json(401, {"error": "invalid_client"})
                return
            token = provider.token(sub=CLIENT_ID, groups=["writers"])
            self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300})

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    idp.add_key("k1")
    server = _serve(idp)
    yield idp
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def oidc_server(
    provider: IdentityProvider, tmp_path_factory: pytest.TempPathFactory, environments_dir: Path
) -> Iterator[RunningServer]:
    config = tmp_path_factory.mktemp("oidc") / "oidc.toml"
    config.write_text(
        f"""
[[issuers]]
issuer = "{provider.url}"
audience = "{AUDIENCE}"
jwks_url = "{provider.url}/keys"
token_url = "{provider.url}/token"

[[issuers.groups]]
source_id = "readers"
projects = ["demo"]
capabilities = ["functionsAcl:READ", "sessionsAcl:CREATE"]

[[issuers.groups]]
source_id = "writers"
projects = ["demo"]
capabilities = ["functionsAcl:READ", "functionsAcl:WRITE"]
"""
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
    fake_header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
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
