"""fnhost's two deployments over HTTP, measured in one run on this machine: the embedded server
(`fnhost serve`: SQLite, local instances) and fnhost scaled out (PostgreSQL, one `fnhost
dispatcher`, one `fnhost serve` API replica, a Ray cluster of a head and two fnhost nodes).

    uv run --group bench python -m benchmarks.scaleout [--quick]

Measures, for both: a warm call through the SDK-style loop (POST /sessions, POST .../call, then
POST .../calls/byids until it is not Running; raw HTTP, as benchmarks.run does), p50 and p99; the
throughput of 16 client processes; and the CPU each part spends per call during that run. For
the Ray path also: a deploy that lands on a fresh node (its environment built there with uv,
then the handler imported in the sandbox) and that function's first call, and the time from
killing a node under a running call to that call reading Failed through the API. Every process
shares the same cores, so the parts compete with each other and with the clients. Needs
PostgreSQL at 127.0.0.1:5432 (FNHOST_TEST_POSTGRES_URL). Writes benchmarks/results/scaleout.md
(not with --quick). Run it on a quiet machine, never in the tests.
"""

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # a cluster on the loopback
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves this machine

import httpx
import psutil
from cryptography.fernet import Fernet
from tests.postgres import fresh_database
from tests.ray_cluster import LocalRayCluster
from tests.scaled_out import RunningDispatcher

from benchmarks import fnhost_side, measure
from benchmarks.measure import Latency

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scaleout.md"
WHERE = HERE.parent / "tests" / "functions" / "where"
CLIENTS = 16
# Longest the dispatcher takes to see a node that joined the cluster (RAY_NODES_MAX_AGE_SECONDS).
NODE_SEEN_SECONDS = 2.0


@dataclass(frozen=True)
class Sizes:
    calls: int = 500
    warmup: int = 50
    throughput_seconds: float = 10.0


QUICK = Sizes(calls=50, warmup=10, throughput_seconds=3.0)

Pids = Callable[[], list[int]]


def cpu_seconds(pids: list[int]) -> float:
    """CPU of these processes and of their children that ended (waited for), in seconds."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree(pid: int) -> list[int]:
    """A process and every process under it."""
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


@dataclass
class Run:
    """One deployment's numbers."""

    warm: Latency
    rate: float
    cpu_ms: dict[str, float]  # CPU per call of each part, in ms


def measure_calls(
    server: fnhost_side.Fnhost, function_id: int, sizes: Sizes, parts: dict[str, Pids]
) -> Run:
    operation = fnhost_side.trivial_call(server, function_id)
    warm = measure.timed(operation(), sizes.calls, sizes.warmup)
    print(f"warm {warm}", flush=True)
    pids = {name: find() for name, find in parts.items()}
    before = {name: cpu_seconds(found) for name, found in pids.items()}
    rate = measure.throughput(operation, clients=CLIENTS, seconds=sizes.throughput_seconds)
    # The clients' first (unmeasured) calls count too: they ran in the window.
    calls = rate * sizes.throughput_seconds + CLIENTS
    pids = {name: sorted(set(found) | set(parts[name]())) for name, found in pids.items()}
    cpu_ms = {
        name: (cpu_seconds(found) - before[name]) * 1000 / calls for name, found in pids.items()
    }
    print(f"throughput {rate:.0f} calls/s, CPU per call (ms) {cpu_ms}", flush=True)
    return Run(warm, rate, cpu_ms)


def local_path(work: Path, sizes: Sizes) -> Run:
    server = fnhost_side.Fnhost(work / "local", {})
    server.start()
    try:
        with server.http() as http:
            function_id, _ = server.deploy(http, "function")
        parts = {
            "the server (API, dispatcher; SQLite inside)": lambda: [server.pid],
            "instances and calls": lambda: tree(server.pid)[1:],
        }
        return measure_calls(server, function_id, sizes, parts)
    finally:
        server.stop()


def node_pids(cluster: LocalRayCluster) -> list[int]:
    """Every process of the fnhost nodes (raylets, their workers: instances, zygotes, calls)."""
    return [
        pid
        for node in cluster.nodes.values()
        for infos in node.all_processes.values()
        for info in infos
        for pid in tree(info.process.pid)
    ]


def head_pids(cluster: LocalRayCluster) -> list[int]:
    head = cluster.cluster.head_node
    return [info.process.pid for infos in head.all_processes.values() for info in infos]


def postgres() -> list[int]:
    """The PostgreSQL server: its postmaster and every backend (a backend that ends is counted
    in its postmaster's children's CPU), whichever database they serve."""
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres" and process.parent().name() != "postgres":
            return tree(process.pid)
    raise RuntimeError("no PostgreSQL server runs on this machine")


def ray_path(work: Path, sizes: Sizes) -> tuple[Run, dict[str, float]]:
    with fresh_database() as database_url:
        cluster = LocalRayCluster(work / "ray", work / "environments").start(nodes=2)
        env = {
            "FNHOST_DATABASE_URL": database_url,
            "FNHOST_EXECUTOR": "ray",
            "FNHOST_RAY_ADDRESS": cluster.cluster.address,
            "FNHOST_SECRET_KEY": Fernet.generate_key().decode(),
            "FNHOST_ENVIRONMENTS_DIR": str(work / "environments"),
        }
        dispatcher = RunningDispatcher(work / "dispatcher", env).start()
        dispatcher.wait_active()
        replica = fnhost_side.Fnhost(work / "replica", env)
        replica.start()
        assert dispatcher.process is not None
        dispatcher_pid = dispatcher.process.pid
        try:
            with replica.http() as http:
                function_id, _ = replica.deploy(http, "function")
                parts = {
                    "the API replica": lambda: [replica.pid],
                    "the dispatcher": lambda: [dispatcher_pid],
                    "PostgreSQL (the whole server)": postgres,
                    "the Ray nodes (raylets, instances, calls)": lambda: node_pids(cluster),
                    "the Ray head (GCS, its raylet)": lambda: head_pids(cluster),
                }
                run = measure_calls(replica, function_id, sizes, parts)
                extra = _fresh_node_and_loss(replica, http, cluster)
            return run, extra
        except Exception:
            print(f"dispatcher log (tail):\n{dispatcher.logs()[-3000:]}")
            print(f"replica log (tail):\n{replica.log.read_text()[-3000:]}")
            raise
        finally:
            replica.stop()
            dispatcher.stop()
            cluster.shutdown()


def _fresh_node_and_loss(
    replica: fnhost_side.Fnhost, http: httpx.Client, cluster: LocalRayCluster
) -> dict[str, float]:
    fresh = cluster.add_node(own_environments=True)
    time.sleep(NODE_SEEN_SECONDS)
    # The fresh node holds no instance: the build's instance goes there.
    function_id, deployed = replica.deploy(http, WHERE)
    api = replica.api()
    started = time.perf_counter()
    first = fnhost_side.call_until_done(api, function_id, {})
    first_call = time.perf_counter() - started
    node = _response(http, function_id, first["id"])["node"]
    if node != fresh:
        raise RuntimeError(f"the function was built on {node}, not on the fresh node {fresh}")
    print(f"fresh node: deploy {deployed:.2f} s, first call {first_call * 1000:.0f} ms", flush=True)

    session = api.post(f"{fnhost_side.API}/sessions", {"items": [{"tokenExchange": True}]})
    call = api.post(
        f"{fnhost_side.API}/functions/{function_id}/call",
        {"data": {"seconds": 120}, "nonce": session["items"][0]["nonce"]},
    )
    calls = f"{fnhost_side.API}/functions/{function_id}/calls"
    while not http.get(f"{calls}/{call['id']}/logs").json()["items"]:  # it runs
        time.sleep(0.01)
    killed_at = time.perf_counter()
    cluster.kill(fresh)
    while call["status"] == "Running":
        time.sleep(0.01)
        call = api.post(f"{calls}/byids", {"items": [{"id": call["id"]}]})["items"][0]
    lost = time.perf_counter() - killed_at
    print(f"node killed: {call['status']} after {lost:.2f} s: {call['error']['message']}")
    if call["status"] != "Failed":
        raise RuntimeError(f"the call on the lost node ended {call['status']}")
    api.close()
    return {"deploy": deployed, "first": first_call, "lost": lost}


def _response(http: httpx.Client, function_id: int, call_id: int) -> dict[str, str]:
    found = http.get(f"{fnhost_side.API}/functions/{function_id}/calls/{call_id}/response")
    return dict(found.json()["response"])


def table(local: Run, ray: Run, extra: dict[str, float], sizes: Sizes, load: float) -> str:
    def latency(run: Run) -> str:
        return f"{run.warm.p50:.1f} / {run.warm.p99:.1f}"

    lines = [
        "| Measurement | Target (Ray path) | Embedded (`fnhost serve`, SQLite) | Scaled out "
        "(replica, dispatcher, PostgreSQL, Ray) |",
        "|---|---|---|---|",
        f"| Warm call p50 / p99 (ms) | p50 ≤ 10 | {latency(local)} | {latency(ray)} |",
        f"| Throughput, {CLIENTS} clients (calls/s) | ≥ 200 | {local.rate:.0f} | {ray.rate:.0f} |",
    ]
    for name, ms in local.cpu_ms.items():
        lines.append(f"| CPU per call: {name} (ms) | | {ms:.2f} | |")
    for name, ms in ray.cpu_ms.items():
        lines.append(f"| CPU per call: {name} (ms) | | | {ms:.2f} |")
    lines += [
        "| Deploy to Ready on a fresh node: environment built there (uv, its package cache "
        f"warm), handler imported (s) | | | {extra['deploy']:.2f} |",
        f"| That function's first call (ms) | | | {extra['first'] * 1000:.0f} |",
        f"| Node killed under a call: Failed through the API after (s) | ≤ 10 | | "
        f"{extra['lost']:.2f} |",
        "",
        f"{sizes.calls} sequential warm calls after {sizes.warmup} unmeasured, {CLIENTS} client "
        f"processes for {sizes.throughput_seconds:g} s; CPU per call over the throughput run "
        f"(the clients' first calls included). Ray's health checks: 1 s period, 1 s timeout, 3 "
        f"failures. Machine: {os.cpu_count()} cores (every process above shares them), Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, load average "
        f"{load:.2f} at the start.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; results not written")
    arguments = parser.parse_args()
    sizes = QUICK if arguments.quick else Sizes()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fnhost-bench-scaleout-") as work:
        local = local_path(Path(work), sizes)
        ray, extra = ray_path(Path(work), sizes)
    text = table(local, ray, extra, sizes, load)
    print(text)
    if not arguments.quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
