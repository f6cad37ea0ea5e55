"""The gateway to the upstream CDF, request by request: the app in the test process, a stand-in
identity provider and a stand-in upstream CDF on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fnhost.api.gateway import UPSTREAM_ROUTE
from fnhost.services.identity import NOT_FORWARDED
from tests import identity_provider, upstream_cdf
from tests.identity_provider import IdentityProvider
from tests.integration.apps import ADMIN_TOKEN, InProcess, in_process
from tests.servers import free_port
from tests.upstream_cdf import UpstreamCdf

AUDIENCE = "https://cdf.example"
P = "/api/v1/projects/demo"


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    with identity_provider.running(IdentityProvider(AUDIENCE)) as idp:
        yield idp


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamCdf]:
    with upstream_cdf.running(UpstreamCdf()) as running:
        yield running


@pytest.fixture
async def app(
    tmp_path: Path, provider: IdentityProvider, upstream: UpstreamCdf
) -> AsyncIterator[InProcess]:
    async with in_process(
        tmp_path / "data",
        oidc_config=provider.oidc_config(
            tmp_path / "oidc.json", {"readers": (["demo"], ["functionsAcl:READ"])}
        ),
        upstream_url=upstream.url,
        # A project of its own goes elsewhere: to a port nothing listens on.
        upstream_project_urls={"elsewhere": f"http://127.0.0.1:{free_port()}"},
        upstream_request_max_bytes=1024,
    ) as running:
        yield running


async def test_a_forwarded_request_keeps_its_method_path_query_body_and_cdf_headers(
    app: InProcess, provider: IdentityProvider, upstream: UpstreamCdf
) -> None:
    token = provider.token()
    body = gzip.compress(json.dumps({"items": [{"externalId": "gzipped"}]}).encode())
    response = await app.http.post(
        f"{P}/timeseries?source=a%2Fb&limit=5",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept-Encoding": "gzip",
            "x-cdp-app": "gateway-tests",
            "Cookie": "console=fnhost-session",
            "api-key": "legacy",
            "Connection": "x-hop",
            "x-hop": "1",
        },
    )

    seen = upstream.requests[-1]
    assert (seen.method, seen.path, seen.query) == (
        "POST",
        f"{P}/timeseries",
        "source=a%2Fb&limit=5",
    )
    assert seen.body == body  # gzip passes as it came
    assert seen.header("content-encoding") == ["gzip"]
    assert seen.header("x-cdp-app") == ["gateway-tests"]
    assert seen.header("authorization") == [f"Bearer {token}"]
    assert seen.header("cookie") == seen.header("api-key") == seen.header("x-hop") == []
    assert response.status_code == 201
    assert response.headers.get_list("x-request-id") == [f"upstream-{len(upstream.requests)}"]
    assert response.headers["content-encoding"] == "gzip"  # the upstream's, passed as it is
    assert response.json()["items"][0]["externalId"] == "gzipped"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("timeseries/byids", 403, "Resource not available: no access"),
        ("assets/list", 404, f"No such path: {P}/assets/list"),
    ],
)
async def test_upstream_errors_come_back_as_the_upstream_sent_them(
    app: InProcess, provider: IdentityProvider, path: str, status: int, message: str
) -> None:
    response = await app.http.post(f"{P}/{path}", json={}, headers=app.auth(provider.token()))
    assert response.status_code == status
    assert response.json() == {"error": {"code": status, "message": message}}


def _expired(provider: IdentityProvider) -> str:
    return provider.token(exp=int(time.time()) - 3600)


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        pytest.param(lambda _p: ADMIN_TOKEN, 403, NOT_FORWARDED, id="admin token"),
        pytest.param(lambda _p: None, 401, "Missing bearer token", id="no token"),
        pytest.param(lambda _p: "made-up", 401, "Invalid, revoked or expired", id="unknown"),
        pytest.param(_expired, 401, "Signature has expired", id="expired JWT"),
        pytest.param(
            lambda p: p.token(aud="someone-else"),
            401,
            "Audience doesn't match",
            id="other audience",
        ),
    ],
)
async def test_only_verified_tokens_of_a_trusted_issuer_are_forwarded(
    app: InProcess,
    provider: IdentityProvider,
    upstream: UpstreamCdf,
    token: Any,
    status: int,
    message: str,
) -> None:
    before, rows = len(upstream.requests), await app.snapshot()
    value = token(provider)
    headers = {"Authorization": f"Bearer {value}" if value else ""}
    response = await app.http.post(f"{P}/timeseries/list", json={}, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == status
    assert message in response.json()["error"]["message"]
    assert len(response.headers["x-request-id"]) == 32
    assert len(upstream.requests) == before
    assert await app.snapshot() == rows


async def test_fnhost_resources_stay_local(
    app: InProcess, provider: IdentityProvider, upstream: UpstreamCdf
) -> None:
    before = len(upstream.requests)
    auth = app.auth(provider.token())
    served = await app.http.get(f"{P}/functions/limits", headers=auth)
    assert served.status_code == 200 and "runtimes" in served.json()
    # Paths fnhost does not serve, under a resource it does: its own 404 or 405, not CDF's.
    unknown = await app.http.post(f"{P}/functions/1/calls/2/nothing", json={}, headers=auth)
    assert unknown.status_code == 404
    wrong_method = await app.http.put(f"{P}/files/list", json={}, headers=auth)
    assert wrong_method.status_code == 405
    assert len(upstream.requests) == before


async def test_a_body_over_the_limit_is_refused_unsent(
    app: InProcess, provider: IdentityProvider, upstream: UpstreamCdf
) -> None:
    before = len(upstream.requests)
    auth = app.auth(provider.token())

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 500

    declared = await app.http.post(f"{P}/timeseries", content=b"x" * 1500, headers=auth)
    streamed = await app.http.post(f"{P}/timeseries", content=chunked(), headers=auth)
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "FNHOST_UPSTREAM_REQUEST_MAX_BYTES" in response.json()["error"]["message"]
    assert len(upstream.requests) == before


async def test_each_project_goes_to_its_own_upstream(
    app: InProcess, provider: IdentityProvider
) -> None:
    response = await app.http.get(
        "/api/v1/projects/elsewhere/timeseries", headers=app.auth(provider.token())
    )
    assert response.status_code == 502
    assert "could not be reached" in response.json()["error"]["message"]


async def test_forwarded_requests_are_counted_by_status(
    app: InProcess, provider: IdentityProvider
) -> None:
    def count(text: str, status: str) -> float:
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "fnhost_http_request_duration_seconds_count"
            and sample.labels == {"method": "POST", "route": UPSTREAM_ROUTE, "status": status}
        )

    before = (await app.http.get("/metrics")).text
    auth = app.auth(provider.token())
    await app.http.post(f"{P}/timeseries/list", json={}, headers=auth)
    await app.http.post(f"{P}/timeseries/byids", json={}, headers=auth)
    await app.http.post(f"{P}/timeseries/list", json={})  # the admin's token: refused
    after = (await app.http.get("/metrics")).text
    for status, requests in (("200", 1), ("403", 2)):
        assert count(after, status) - count(before, status) == requests


async def test_without_an_upstream_forwarded_paths_are_a_404_saying_why(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data") as plain:
        response = await plain.http.get(f"{P}/timeseries")
        assert response.status_code == 404
        assert "(FNHOST_UPSTREAM_URL)" in response.json()["error"]["message"]
        assert (await plain.http.get(f"{P}/functions/limits")).status_code == 200
