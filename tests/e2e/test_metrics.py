"""Prometheus metrics: each counter moves by exactly what happened, histograms count each call,
and the endpoint is not open to anonymous callers."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import deploy
from tests.e2e.test_identity import fnhost
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: RunningServer) -> Samples:
    with server.http() as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_counters_and_histograms_move_by_exactly_the_calls_made(server: RunningServer) -> None:
    project = f"metrics-{uuid.uuid4().hex[:8]}"
    client = server.client(project)
    before = scrape(server)
    ok, raises = deploy(client, "ok"), deploy(client, "raises")
    assert (ok.status, raises.status) == ("Ready", "Ready")

    for i in range(5):
        assert ok.call(data={"x": i}, wait=True).status == "Completed"
    for _ in range(3):
        assert raises.call(data={}, wait=True).status == "Failed"
    after = scrape(server)

    for function, status, count in ((ok, "Completed", 5), (raises, "Failed", 3)):
        labels = {"project": project, "function_id": str(function.id)}
        assert moved(before, after, "fnhost_calls_total", **labels, status=status) == count
        for histogram in ("fnhost_call_duration_seconds", "fnhost_call_queue_wait_seconds"):
            assert moved(before, after, f"{histogram}_count", **labels) == count
            assert moved(before, after, f"{histogram}_bucket", **labels, le="+Inf") == count
    assert moved(before, after, "fnhost_builds_total", outcome="ready") == 2
    assert moved(before, after, "fnhost_build_duration_seconds_count", outcome="ready") == 2
    assert moved(before, after, "fnhost_instance_starts_total", outcome="started") == 2
    call_route = "/api/v1/projects/{project}/functions/{functionId}/call"
    requests = moved(
        before,
        after,
        "fnhost_http_request_duration_seconds_count",
        method="POST",
        route=call_route,
        status="201",
    )
    assert requests == 8
    # The process's own metrics come along; no label carries a call id.
    assert any(name == "process_resident_memory_bytes" for name, _ in after)
    assert not any("call_id" in dict(labels) for _, labels in after)


def test_metrics_need_a_token_with_metrics_read_in_every_project(server: RunningServer) -> None:
    anonymous = httpx.get(f"{server.url}/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == 401
    # However broad in the projects, a token without metricsAcl:READ reads no metrics.
    reader = fnhost(
        server, "token", "issue", "--all-projects", "--capability", "functionsAcl:READ"
    )[-1]
    with server.http(reader) as http:
        refused = http.get("/metrics")
    assert refused.status_code == 403
    assert "metricsAcl:READ" in refused.json()["error"]["message"]
    scraper = fnhost(server, "token", "issue", "--all-projects", "--capability", "metricsAcl:READ")[
        -1
    ]
    with server.http(scraper) as http:
        assert http.get("/metrics").status_code == 200
        # An operator's capability, not a CDF one: token/inspect shows no such ACL.
        inspected = http.get("/api/v1/token/inspect").json()
    assert inspected["capabilities"] == []
