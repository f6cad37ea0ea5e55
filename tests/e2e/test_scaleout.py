"""fnhost scaled out (issue 11), on this machine: a Ray cluster of a head and two fnhost nodes,
PostgreSQL, two `fnhost dispatcher` processes (one active, one standing by) and two `fnhost serve`
API replicas, each on a data directory of its own, driven by the real cognite-sdk.

Calls report each run to a stand-in service of the test (`Runs`), which counts them and holds
them running until released: no call may run twice, whatever is killed meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import Function, FunctionCall, FunctionSchedule

from tests.conftest import deploy
from tests.e2e.test_sdk_schedules import (
    finished_call,
    first_tick_after,
    leave_room_before_the_next_tick,
    ticks_of,
)
from tests.postgres import fresh_database, query
from tests.ray_cluster import LocalRayCluster
from tests.scaled_out import RunningDispatcher, ScaledOut
from tests.servers import RunningServer, free_port, stand_in, wait_until

# One cluster for the module, on the xdist worker of the other Ray tests (`--dist loadgroup`).
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("ray_cluster"),
    pytest.mark.timeout(300),
]

PROJECT = "scaled"
# The bound the issue sets on turning a lost node into Failed calls.
NODE_LOSS_SECONDS = 10
# Calls the active dispatcher runs at once (the rest wait queued, still Running).
SLOTS = 8
# The handler waits this long at most for the stand-in's answer.
HELD_SECONDS = 120


class Runs:
    """The stand-in service `reports_runs` calls: which calls ran, how often, and on which node.
    While held, it answers no call (the calls keep running); released, it answers them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[int, str]] = []
        self._open = threading.Event()
        self.url = ""

    def serve(self) -> Iterator[Runs]:
        runs = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                _, _, call_id, node = self.path.split("/")
                with runs._lock:
                    runs._seen.append((int(call_id), node))
                runs._open.wait(HELD_SECONDS)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        with stand_in(Handler) as url:
            self.url = url
            try:
                yield self
            finally:
                self.release()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def times(self, call_id: int) -> int:
        with self._lock:
            return sum(1 for seen, _ in self._seen if seen == call_id)

    def nodes(self, call_ids: list[int]) -> dict[int, str]:
        with self._lock:
            return {call_id: node for call_id, node in self._seen if call_id in call_ids}

    def wait_running(self, call_ids: list[int], timeout: float = 60) -> dict[int, str]:
        """Until every call of `call_ids` runs; the node of each."""
        return wait_until(
            lambda: (nodes := self.nodes(call_ids)) and len(nodes) == len(call_ids) and nodes,
            timeout=timeout,
        )


@dataclass
class Deployed:
    function: Function  # reports_runs, created through replica A
    ticking: Function  # ok, with a schedule firing every minute
    schedule: FunctionSchedule
    tick: int  # the schedule's first tick (epoch ms)


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    yield from Runs().serve()


@pytest.fixture(scope="module")
def scaled(
    tmp_path_factory: pytest.TempPathFactory, environments_dir: Path, request: pytest.FixtureRequest
) -> Iterator[ScaledOut]:
    root = tmp_path_factory.mktemp("scaled")
    failed_before = request.session.testsfailed
    with fresh_database() as database_url:
        cluster = LocalRayCluster(root / "ray", environments_dir).start(nodes=2)
        public = free_port()
        deployment = ScaledOut(
            cluster,
            database_url,
            root,
            environments_dir,
            env={
                "FNHOST_CALL_TIMEOUT_SECONDS": "150",
                "FNHOST_MAX_CONCURRENT_CALLS": str(SLOTS),
                "FNHOST_RAY_CALLS_PER_INSTANCE": "2",
                "FNHOST_SHUTDOWN_GRACE_SECONDS": "1",
                # The replica that is never killed: where functions' `client` calls back.
                "FNHOST_PUBLIC_URL": f"http://127.0.0.1:{public}",
            },
        )
        try:
            deployment.add_dispatcher(FNHOST_METRICS_PORT=str(free_port())).wait_active()
            deployment.add_dispatcher(FNHOST_METRICS_PORT=str(free_port()))
            deployment.add_replica()
            deployment.replicas.append(
                RunningServer(
                    data_dir=root / "replica1",
                    environments_dir=environments_dir,
                    env=dict(deployment.env),
                    port=public,
                ).start()
            )
            yield deployment
        finally:
            if request.session.testsfailed > failed_before:
                print(deployment.logs())  # noqa: T201 - shown only when a test failed
            deployment.stop()
            cluster.shutdown()


@pytest.fixture(scope="module")
def deployed(scaled: ScaledOut) -> Deployed:
    """A function created through replica A, and a schedule (made first: its tick comes while
    the other tests run)."""
    a, b = scaled.replicas[:2]
    ticking = deploy(a.client(PROJECT), "ok", name="ticking")
    assert ticking.status == "Ready", ticking.error
    leave_room_before_the_next_tick(15)
    schedule = b.client(PROJECT).functions.schedules.create(
        name="every minute", cron_expression="* * * * *", function_id=ticking.id, data={"x": 1}
    )
    function = deploy(a.client(PROJECT), "reports_runs")
    assert function.status == "Ready", function.error
    return Deployed(function, ticking, schedule, first_tick_after(schedule.created_time))


@pytest.fixture(scope="module")
def via_b(scaled: ScaledOut) -> CogniteClient:
    """The SDK through replica B (never killed)."""
    return scaled.replicas[1].client(PROJECT)


def call(client: CogniteClient, function: Function, data: dict[str, object]) -> int:
    """Call without waiting for the end; the call's id."""
    started: FunctionCall = client.functions.call(id=function.id, data=data, wait=False)
    return started.id


def ended(
    client: CogniteClient, function: Function, call_ids: list[int], timeout: float = 60
) -> dict[int, FunctionCall]:
    """Wait until every call of `call_ids` has ended; each by id."""

    def all_ended() -> dict[int, FunctionCall] | None:
        listed = client.functions.calls.list(function_id=function.id, limit=-1)
        found = {c.id: c for c in listed if c.id in call_ids}
        if len(found) == len(call_ids) and all(c.status != "Running" for c in found.values()):
            return found
        return None

    result: dict[int, FunctionCall] = wait_until(all_ended, timeout=timeout, interval=0.1)
    return result


def held(runs: Runs, client: CogniteClient, function: Function, count: int) -> dict[int, str]:
    """`count` calls held running (each reported its run): the node of each, by call id."""
    runs.hold()
    return runs.wait_running([call(client, function, {"url": runs.url}) for _ in range(count)])


def completed_once(calls: dict[int, FunctionCall], runs: Runs) -> None:
    for call_id, each in calls.items():
        assert each.status == "Completed", (call_id, each.error)
        assert runs.times(call_id) == 1, call_id


def loads_ray(process: subprocess.Popen[bytes] | None) -> bool:
    assert process is not None
    return "_raylet" in Path(f"/proc/{process.pid}/maps").read_text()


def test_a_function_created_through_one_replica_is_called_through_the_other(
    scaled: ScaledOut, deployed: Deployed
) -> None:
    a, b = scaled.replicas[:2]
    client = b.client(PROJECT)

    done = client.functions.call(id=deployed.function.id, data={}, wait=True)
    assert done.status == "Completed", done.error
    assert done.get_response()["node"] in scaled.cluster.nodes

    # The call ended in the dispatcher's process, yet POST .../call of replica B comes back
    # with its end: the SDK's call(wait=True) is one round trip.
    with b.http() as http:
        base = f"/api/v1/projects/{PROJECT}"
        (session,) = http.post(
            f"{base}/sessions", json={"items": [{"tokenExchange": True}]}
        ).json()["items"]
        answer = http.post(
            f"{base}/functions/{deployed.function.id}/call",
            json={"data": {}, "nonce": session["nonce"]},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "Completed"

    # Replicas run no function code and never load Ray.
    assert not loads_ray(a.process)
    assert not loads_ray(b.process)


def test_calls_spread_over_the_nodes_and_operators_see_where(
    scaled: ScaledOut, deployed: Deployed, runs: Runs
) -> None:
    b = scaled.replicas[1]
    client = b.client(PROJECT)
    function = deployed.function
    # Two calls fill an instance: the third and fourth start a second one, on the other node.
    nodes = held(runs, client, function, 4)
    call_ids = list(nodes)
    assert set(nodes.values()) == set(scaled.cluster.nodes)

    active = scaled.active()
    doctor = subprocess.run(
        [sys.executable, "-m", "fnhost", "doctor"],
        env={**os.environ, **active.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert doctor.returncode == 0, doctor.stderr
    # Each node, the function's instance on each, and the calls each runs.
    for node in scaled.cluster.nodes:
        assert f"node {node} (127.0.0.1): " in doctor.stdout, doctor.stdout
    assert "runs no function (no fnhost_node)" in doctor.stdout  # the head
    instances = [
        line for line in doctor.stdout.splitlines() if f"function {function.id}, worker" in line
    ]
    assert {line.split("-")[-1].split(":")[0] for line in instances} == set(nodes.values())
    listed = {int(i) for line in instances for i in line.split("calls running: ")[1].split(", ")}
    assert listed == set(call_ids)

    runs.release()
    calls = ended(client, function, call_ids)
    completed_once(calls, runs)
    assert {calls[i].get_response()["node"] for i in call_ids} == set(nodes.values())
    # Said by the dispatcher that saw the call end (the active one, or one that took over).
    dispatcher_logs = "".join(dispatcher.logs() for dispatcher in scaled.dispatchers)
    for call_id, node in nodes.items():
        assert f"call {call_id} ran on node {node}" in dispatcher_logs

    # The CLI shows where each call ran (fnhost's own endpoint: not in the CDF call object).
    command = [sys.executable, "-m", "fnhost", "calls", "list", str(function.id), "--json"]
    connection = ["--url", b.url, "--token", b.token, "--project", PROJECT]
    listed_calls = subprocess.run(
        [*command, *connection], capture_output=True, text=True, timeout=60, check=True
    )
    by_id = {item["id"]: item for item in json.loads(listed_calls.stdout)}
    assert {call_id: by_id[call_id]["node"] for call_id in call_ids} == nodes
    assert "node" not in client.functions.calls.retrieve(call_ids[0], function.id).dump()

    # The active dispatcher's own metrics, on its metrics listener.
    metrics_url = f"http://127.0.0.1:{active.env['FNHOST_METRICS_PORT']}/metrics"
    assert httpx.get(metrics_url).status_code == 401
    scraped = httpx.get(metrics_url, headers={"Authorization": f"Bearer {b.token}"})
    assert scraped.status_code == 200
    assert f'fnhost_calls_total{{function_id="{function.id}",project="{PROJECT}"' in scraped.text


def test_killing_the_active_dispatcher_loses_no_call_and_runs_none_twice(
    scaled: ScaledOut, deployed: Deployed, runs: Runs
) -> None:
    a, b = scaled.replicas[:2]
    clients = [a.client(PROJECT), b.client(PROJECT)]
    function = deployed.function
    runs.hold()
    # Calls of every kind when the dispatcher dies: four running on the function's instances
    # (two nodes, two calls each), four claimed by the dispatcher but waiting for a slot on an
    # instance (never handed over), two still queued (the dispatcher has 8 slots).
    call_ids = [call(clients[i % 2], function, {"url": runs.url}) for i in range(SLOTS + 2)]
    wait_until(lambda: len(runs.nodes(call_ids)) == 4, timeout=60)

    killed = scaled.active()
    killed.stop(signal.SIGKILL)
    taking_over = scaled.active()
    assert taking_over is not killed
    wait_until(
        lambda: (
            "took over 8 calls of earlier dispatchers (4 never handed to an instance)"
            in taking_over.logs()
        ),
        timeout=30,
    )

    runs.release()
    completed_once(ended(clients[1], function, call_ids), runs)
    killed.start()  # standing by again, for the tests that follow
    assert killed.role() == "standby"


def test_a_dispatcher_that_loses_its_lock_stops_and_another_takes_over(
    scaled: ScaledOut, deployed: Deployed, runs: Runs, via_b: CogniteClient
) -> None:
    function = deployed.function
    call_ids = list(held(runs, via_b, function, 2))
    cut_off = scaled.active()

    # The lock's connection drops (as when the network between them fails).
    asyncio.run(
        query(
            scaled.database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted",
        )
    )
    wait_until(lambda: "lost the dispatchers' lock" in cut_off.logs(), timeout=10)
    other = scaled.active()
    assert other is not cut_off

    runs.release()
    completed_once(ended(via_b, function, call_ids), runs)
    after = via_b.functions.call(id=function.id, data={}, wait=True)
    assert after.status == "Completed", after.error


def test_a_dispatcher_stopped_with_sigterm_leaves_its_calls_to_the_next(
    scaled: ScaledOut, deployed: Deployed, runs: Runs, via_b: CogniteClient
) -> None:
    function = deployed.function
    call_ids = list(held(runs, via_b, function, 2))
    stopped: RunningDispatcher = scaled.active()

    assert stopped.stop(signal.SIGTERM) == 0
    assert "dispatcher stopped" in stopped.logs()
    scaled.active()

    runs.release()
    completed_once(ended(via_b, function, call_ids), runs)
    stopped.start()


def test_killing_replica_a_loses_nothing_it_accepted(
    scaled: ScaledOut, deployed: Deployed, runs: Runs
) -> None:
    a, b = scaled.replicas[:2]
    function = deployed.function
    accepted_by_a = list(held(runs, a.client(PROJECT), function, 2))

    # A file uploaded in parts, one part through each replica (they share no disk).
    files = f"/api/v1/projects/{PROJECT}/files"
    with a.http() as via_a, b.http() as via_b:
        started = via_a.post(
            f"{files}/initmultipartupload", params={"parts": 2}, json={"name": "parts.bin"}
        ).json()
        urls = started["uploadUrls"]
        assert via_a.put(urls[0], content=b"through A;").status_code == 200
        assert via_b.put(urls[1].replace(a.url, b.url), content=b"through B").status_code == 200
        done = via_b.post(
            f"{files}/completemultipartupload",
            json={"id": started["id"], "uploadId": started["uploadId"]},
        )
        assert done.status_code == 200, done.text

        a.stop(signal.SIGKILL)

        link = via_b.post(f"{files}/downloadlink", json={"items": [{"id": started["id"]}]})
        assert via_b.get(link.json()["items"][0]["downloadUrl"]).content == b"through A;through B"
    client = b.client(PROJECT)
    assert function.id in [f.id for f in client.functions.list(limit=-1)]
    runs.release()
    completed_once(ended(client, function, accepted_by_a), runs)

    # A replica stopped with SIGTERM ends cleanly; the calls it accepted run.
    c = scaled.add_replica()
    runs.hold()
    accepted = call(c.client(PROJECT), function, {"url": runs.url})
    c.stop(signal.SIGTERM)
    assert "Traceback" not in c.logs()
    assert "Application shutdown complete" in c.logs()
    runs.release()
    completed_once(ended(client, function, [accepted]), runs)


def test_a_schedule_fires_once_per_tick_with_two_replicas(
    scaled: ScaledOut, deployed: Deployed, via_b: CogniteClient
) -> None:
    done = finished_call(via_b, deployed.ticking.id, deployed.schedule.id, deployed.tick)
    assert done.status == "Completed", done.error
    assert done.get_response() == {"x": 2}
    ticks = ticks_of(via_b, deployed.ticking.id, deployed.schedule.id)
    assert ticks.count(deployed.tick) == 1
    assert len(ticks) == len(set(ticks))


def test_losing_a_node_fails_its_calls_and_the_others_go_on(
    scaled: ScaledOut, deployed: Deployed, runs: Runs, via_b: CogniteClient
) -> None:
    function = deployed.function
    nodes = held(runs, via_b, function, 4)
    call_ids = list(nodes)
    lost = next(iter(nodes.values()))
    on_lost = [call_id for call_id, node in nodes.items() if node == lost]
    others = [call_id for call_id in call_ids if call_id not in on_lost]
    assert others, nodes  # the calls spread over both nodes

    killed_at = time.monotonic()
    scaled.cluster.kill(lost)
    failed = ended(via_b, function, on_lost, timeout=NODE_LOSS_SECONDS)
    assert time.monotonic() - killed_at < NODE_LOSS_SECONDS
    for each in failed.values():
        assert each.status == "Failed"
        assert each.error["message"].startswith("The node running this call was lost")
        assert "not re-run" in each.error["message"]

    runs.release()
    completed_once(ended(via_b, function, others), runs)
    (surviving,) = scaled.cluster.nodes
    later = [call(via_b, function, {}) for _ in range(3)]
    finished = ended(via_b, function, later)
    assert {c.get_response()["node"] for c in finished.values()} == {surviving}
