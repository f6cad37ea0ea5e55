"""Run the performance suite: fnhost against Celery+Redis and RQ, on the same trivial function.

    uv run --group bench python -m benchmarks.run

Writes a markdown table to stdout and to benchmarks/results/latest.md. Needs Redis on
127.0.0.1:6379 for the peers (databases 14 and 15 are emptied) and uses `wrk` when installed.
"""

import argparse
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks import fnhost_side, measure, peer_side
from benchmarks.measure import Latency

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
CLIENTS = 16
GET_CONNECTIONS = 64


@dataclass(frozen=True)
class Sizes:
    """How much each measurement runs: bounded in count and time."""

    calls: int = 300
    warmup: int = 20
    throughput_seconds: float = 8.0
    sdk_calls: int = 60
    deploys: int = 3
    get_seconds: int = 5


QUICK = Sizes(calls=60, warmup=5, throughput_seconds=3.0, sdk_calls=15, deploys=2, get_seconds=2)

Value = Latency | float | None


@dataclass
class Row:
    """One measurement across the systems."""

    name: str
    target: str
    unit: str
    values: dict[str, Value] = field(default_factory=dict)


def measure_fnhost(server: fnhost_side.Fnhost, sizes: Sizes, rows: dict[str, Row]) -> None:
    http = server.http()
    api = server.api()
    # The first deploy also builds the (cached, shared) environment: reported, not in the table.
    function_id, first_deploy = server.deploy(http, "function")
    print(f"fnhost: first deploy (environment build) {first_deploy:.2f} s", flush=True)
    deploys, firsts = [], []
    for _ in range(sizes.deploys):
        fresh_id, seconds = server.deploy(http, "function")
        start = time.perf_counter()
        fnhost_side.call_until_done(api, fresh_id, {"x": 1})
        firsts.append(time.perf_counter() - start)
        deploys.append(seconds)
    rows["deploy"].values["fnhost"] = Latency.of(deploys)
    rows["cold"].values["fnhost"] = Latency.of(firsts)

    operation = fnhost_side.trivial_call(server, function_id)()
    rows["warm"].values["fnhost"] = measure.timed(operation, sizes.calls, sizes.warmup)
    print(f"fnhost: warm {rows['warm'].values['fnhost']}", flush=True)
    rows["throughput"].values["fnhost"] = measure.throughput(
        fnhost_side.trivial_call(server, function_id),
        clients=CLIENTS,
        seconds=sizes.throughput_seconds,
    )
    sdk = fnhost_side.sdk_call(server, function_id)
    rows["sdk"].values["fnhost"] = measure.timed(sdk, sizes.sdk_calls, warmup=3)

    last = fnhost_side.call_until_done(api, function_id, {"x": 1})
    rate, tool = fnhost_side.get_requests_per_second(
        server, function_id, last["id"], connections=GET_CONNECTIONS, seconds=sizes.get_seconds
    )
    rows["get"].values["fnhost"] = rate
    rows["get"].unit = f"req/s ({tool})"

    hold_id, _ = server.deploy(http, "hold_function")
    time.sleep(1.0)  # builds and calls are over: the server is idle
    # The server process itself; its functions' warm instances are the next row.
    rows["idle"].values["fnhost"] = measure.rss_mb(server.pid)
    instance_pss, call_pss = _fnhost_instance_and_call_pss(server, hold_id)
    rows["instance"].values["fnhost"] = instance_pss
    rows["call"].values["fnhost"] = call_pss
    http.close()
    api.close()


SPARE_NAME = "fnhost-spare"


def _is_zygote(process: psutil.Process) -> bool:
    """A python process running zygote.py (bubblewrap's own command line names it too)."""
    return process.name().startswith("python") and any(
        part.endswith("zygote.py") for part in process.cmdline()
    )


def _fnhost_instance_and_call_pss(server: fnhost_side.Fnhost, hold_id: int) -> tuple[float, float]:
    """PSS of the hold function's warm instance (a zygote) and of one call forked from it."""

    def start() -> Callable[[], object]:
        thread = threading.Thread(
            target=lambda: fnhost_side.call_until_done(
                server.api(), hold_id, {"x": 1, "seconds": 1.0}
            )
        )
        thread.start()
        return thread.join

    def is_call(process: psutil.Process) -> bool:
        return _is_zygote(process) and _is_zygote(process.parent())

    _rss, call_pss = measure.sample_pss_of_children(server.pid, start, is_call)
    # An instance is its zygote and the spare child it keeps forked for the next call.
    instances = [
        measure.pss_mb(process.pid)
        + sum(measure.pss_mb(c.pid) for c in process.children() if c.name() == SPARE_NAME)
        for process in psutil.Process(server.pid).children(recursive=True)
        if _is_zygote(process) and not _is_zygote(process.parent())
    ]
    return max(instances), call_pss


def measure_peer(peer: peer_side.Peer, sizes: Sizes, rows: dict[str, Row]) -> None:
    peer.start()
    try:
        rows["deploy"].values[peer.name] = peer.started_in * 1000
        operation = peer.make_call()
        rows["warm"].values[peer.name] = measure.timed(operation, sizes.calls, sizes.warmup)
        print(f"{peer.name}: warm {rows['warm'].values[peer.name]}", flush=True)
        rows["throughput"].values[peer.name] = measure.throughput(
            peer.make_call, clients=CLIENTS, seconds=sizes.throughput_seconds
        )
        time.sleep(1.0)
        rows["idle"].values[peer.name] = peer.idle_rss_mb()
        _rss, pss = measure.sample_pss_of_children(
            os.getpid(), lambda: peer.start_hold(1.0), peer.is_call_process
        )
        rows["instance"].values[peer.name] = pss
    finally:
        peer.stop()


def new_rows() -> dict[str, Row]:
    return {
        "warm": Row(
            "Warm call latency (session + call + poll until done)", "p50 ≤ 3.5, p99 < 15", "ms"
        ),
        "throughput": Row(
            f"Throughput, {CLIENTS} concurrent clients", "≥ 500 (stretch 1,000)", "calls/s"
        ),
        "sdk": Row("SDK `call(wait=True)` latency", "p50 < 20", "ms"),
        "cold": Row("First call after Ready (cold)", "< 50", "ms"),
        "deploy": Row(
            "Deploy to Ready, no requirements (peers: worker start to first result)", "< 500", "ms"
        ),
        "get": Row(f"`GET` call at {GET_CONNECTIONS} connections", "≥ 2,000", "req/s"),
        "idle": Row("Idle server memory (RSS; fnhost: the server process)", "< 150", "MB"),
        "instance": Row("Memory per warm instance (PSS; peers: a worker child)", "< 30", "MB"),
        "call": Row("Memory per running call (PSS of the forked process)", "", "MB"),
    }


SYSTEMS = ("fnhost", "celery", "rq")
TITLES = {"fnhost": "fnhost", "celery": "Celery+Redis", "rq": "RQ"}


def _cell(value: Value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, Latency):
        return f"{value.p50:,.1f} / {value.p99:,.1f}"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _scalar(value: Value) -> float | None:
    return value.p50 if isinstance(value, Latency) else value


def _ratio(row: Row, peer: str) -> str:
    ours, theirs = _scalar(row.values.get("fnhost")), _scalar(row.values.get(peer))
    if ours is None or theirs is None or theirs == 0:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def table(rows: dict[str, Row], sizes: Sizes, note: str) -> str:
    """The results as markdown: latencies are p50 / p99."""
    header = ["Measurement", "Unit", "Target (fnhost)", *(TITLES[s] for s in SYSTEMS)]
    header += [f"fnhost ÷ {TITLES[s]}" for s in SYSTEMS[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows.values():
        cells = [row.name, row.unit, row.target, *(_cell(row.values.get(s)) for s in SYSTEMS)]
        cells += [_ratio(row, s) for s in SYSTEMS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Latencies are p50 / p99 in ms; ratios compare p50s (or rates), so below 1 is better for "
        "times and memory, above 1 for rates.",
        f"{sizes.calls} sequential warm calls after {sizes.warmup} unmeasured, "
        f"{CLIENTS} client processes for {sizes.throughput_seconds:g} s, {sizes.sdk_calls} SDK "
        f"calls, {sizes.deploys} deploys. Machine: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        note,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, shorter runs")
    parser.add_argument("--only", choices=SYSTEMS, action="append", help="systems to run")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="fnhost setting"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown output file")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    systems = args.only or list(SYSTEMS)
    rows = new_rows()
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="fnhost-bench-") as work:
        if "fnhost" in systems:
            server = fnhost_side.Fnhost(Path(work), env)
            server.start()
            try:
                measure_fnhost(server, sizes, rows)
            except Exception:
                print(f"fnhost serve log (tail):\n{server.log.read_text()[-3000:]}")
                raise
            finally:
                server.stop()
        for peer_class in (peer_side.CeleryPeer, peer_side.RqPeer):
            if peer_class.name in systems:
                measure_peer(peer_class(Path(work)), sizes, rows)
    note = (
        "Each fnhost call is a fork of its function's warm instance (a zygote in the "
        "sandbox), so calls share no state; the instance row is that zygote's PSS with the "
        "spare child it keeps forked for the next call, the call row a running fork's. "
        "Peers' instance row: a Celery prefork child, an RQ work horse. "
        "Peers' idle memory is their whole process tree and excludes Redis."
    )
    if env:
        note += " fnhost settings: " + ", ".join(f"`{k}={v}`" for k, v in env.items()) + "."
    text = table(rows, sizes, note)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
