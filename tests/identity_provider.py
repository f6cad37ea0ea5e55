"""A stand-in identity provider on 127.0.0.1: a JWKS endpoint and a client-credentials token
endpoint, signing RS256 JWTs with keys the test makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.servers import stand_in


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Client:
    secret: str
    groups: list[str]


@dataclass
class IdentityProvider:
    """Keys (`add_key`), clients (`clients`), and what was asked of the token endpoint."""

    audience: str
    clients: dict[str, Client] = field(default_factory=dict)
    token_seconds: int = 300
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    jwks_fetches: int = 0
    # The form of each request to the token endpoint, secrets left out.
    token_requests: list[dict[str, str]] = field(default_factory=list)
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
            "aud": self.audience,
            "sub": "alice",
            "iat": now,
            "exp": now + self.token_seconds,
            "groups": ["readers"],
        }
        return {k: v for k, v in (base | changes).items() if v is not None}

    def token(self, kid: str = "k1", **changes: Any) -> str:
        return jwt.encode(self.claims(**changes), self.keys[kid], "RS256", headers={"kid": kid})

    def unsigned(self, alg: str, secret: bytes = b"") -> str:
        """A token with `alg` none (no signature) or HS256 keyed with `secret`."""
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
        body = b64(json.dumps(self.claims()).encode())
        signing_input = f"{header}.{body}".encode()
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b""
        return f"{header}.{body}.{b64(signature)}"

    def oidc_config(
        self,
        path: Path,
        groups: dict[str, tuple[list[str], list[str]]],
        scopes: tuple[str, ...] = (),
    ) -> Path:
        """Write an FNHOST_OIDC_CONFIG file at `path` trusting this provider, its token endpoint
        included (asked for `scopes`); `groups` maps a group to its (projects, capabilities)."""
        issuer = {
            "issuer": self.url,
            "audience": self.audience,
            "jwks_url": f"{self.url}/keys",
            "token_url": f"{self.url}/token",
            "scopes": list(scopes),
            "groups": [
                {"source_id": group, "projects": projects, "capabilities": capabilities}
                for group, (projects, capabilities) in groups.items()
            ],
        }
        path.write_text(json.dumps({"issuers": [issuer]}))
        return path

    def issued(self, token: str) -> dict[str, Any]:
        """The claims of `token` if this provider signed it (its signature checked)."""
        kid = jwt.get_unverified_header(token)["kid"]
        claims: dict[str, Any] = jwt.decode(
            token, self.keys[kid].public_key(), ["RS256"], audience=self.audience
        )
        return claims

    def grant(self, form: dict[str, str]) -> dict[str, Any] | None:
        """The token endpoint's answer to a client-credentials form; None: refused."""
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        client = self.clients.get(form.get("client_id", ""))
        if client is None or client.secret != form.get("client_secret"):
            return None
        token = self.token(sub=form["client_id"], groups=client.groups)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_seconds}


def _handler(provider: IdentityProvider) -> type[BaseHTTPRequestHandler]:
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
            granted = provider.grant(form)
            if granted is None:
                self._json(401, {"error": "invalid_client"})
            else:
                self._json(200, granted)

        def log_message(self, *_args: Any) -> None:
            return None

    return Handler


@contextmanager
def running(provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """Serve `provider` (with a key "k1" if it has none) on a free port while in the block."""
    if not provider.keys:
        provider.add_key("k1")
    with stand_in(_handler(provider)) as provider.url:
        yield provider
