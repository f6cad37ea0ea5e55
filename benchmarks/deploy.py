"""Deploy-to-Ready time through the cognite-sdk, from `functions.create(folder=...)` to `Ready`.

    uv run python -m benchmarks.deploy [--runs 20]

Scenarios: no requirements (the base environment, prepared at server start), requirements
whose environment is already cached, and a first build of a small pure-Python requirement (uv's
package cache warm). Also the build of the base environment at server start (from the
server's log), with uv's package cache warm and empty (cognite-sdk and its dependencies then
come from PyPI).
Writes a markdown table to stdout and to benchmarks/results/deploy.md.
"""

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cognite.client import CogniteClient
from tests.servers import RunningServer, wait_until

RESULTS = Path(__file__).resolve().parent / "results" / "deploy.md"
HANDLER = "def handle(data):\n    return data\n"
REQUIREMENT = "tabulate==0.9.0"
POLL_SECONDS = 0.01
BUILT = re.compile(r"built environment \w+ in ([\d.]+) s")
READY_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Result:
    scenario: str
    seconds: list[float]

    def row(self) -> str:
        ordered = sorted(self.seconds)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return (
            f"| {self.scenario} | {len(ordered)} | {statistics.median(ordered):.2f} s "
            f"| {p99:.2f} s |"
        )


def folder(root: Path, requirements: str | None) -> Path:
    """A function folder: a trivial handler and, optionally, a requirements.txt."""
    path = root / uuid.uuid4().hex
    path.mkdir()
    (path / "handler.py").write_text(HANDLER)
    if requirements is not None:
        (path / "requirements.txt").write_text(requirements + "\n")
    return path


def deploy_seconds(client: CogniteClient, code: Path) -> float:
    """Seconds from the SDK's create call until the function is Ready."""
    started = time.perf_counter()
    function = client.functions.create(name=code.name, folder=str(code))
    path = f"/api/v1/projects/{client.config.project}/functions/{function.id}"
    while True:
        status = client.get(path).json()
        if status["status"] == "Ready":
            return time.perf_counter() - started
        if status["status"] == "Failed":
            raise RuntimeError(f"deploy failed: {status['error']['message']}")
        if time.perf_counter() - started > READY_TIMEOUT_SECONDS:
            raise RuntimeError("deploy did not finish in time")
        time.sleep(POLL_SECONDS)


def started_server(root: Path, env: dict[str, str]) -> tuple[RunningServer, float]:
    """A server on fresh directories, and the seconds its base environment build took."""
    server = RunningServer(
        data_dir=root / f"data-{uuid.uuid4().hex[:8]}",
        environments_dir=root / f"environments-{uuid.uuid4().hex[:8]}",
        env=env,
    )
    server.start()
    wait_until(lambda: "base environment ready" in server.logs(), timeout=READY_TIMEOUT_SECONDS)
    built = BUILT.search(server.logs())
    assert built is not None, "the base environment was not built by this server"
    return server, float(built.group(1))


def measure(runs: int, cold_runs: int, root: Path) -> list[Result]:
    server, base_seconds = started_server(root, {})
    try:
        client = server.client()

        def repeat(count: int, make: Callable[[int], Path]) -> list[float]:
            return [deploy_seconds(client, make(run)) for run in range(count)]

        results = [Result("Base environment build at server start (uv cache warm)", [base_seconds])]
        results.append(
            Result("No requirements (base environment)", repeat(runs, lambda _: folder(root, None)))
        )
        deploy_seconds(client, folder(root, REQUIREMENT))  # builds the environment once
        results.append(
            Result(
                f"Requirements already cached (`{REQUIREMENT}`)",
                repeat(runs, lambda _: folder(root, REQUIREMENT)),
            )
        )
        # A comment makes the requirements distinct, so each run builds an environment of its own.
        results.append(
            Result(
                f"First build of `{REQUIREMENT}` (uv package cache warm)",
                repeat(
                    max(1, runs // 4),
                    lambda run: folder(root, f"{REQUIREMENT}\n# run {run} {uuid.uuid4().hex}"),
                ),
            )
        )
    finally:
        server.stop()
    cold = []
    for _ in range(cold_runs):
        # An empty uv cache: cognite-sdk and its dependencies all come from PyPI.
        cache = tempfile.mkdtemp(dir=root, prefix="uv-cache-")
        server, seconds = started_server(root, {"UV_CACHE_DIR": cache})
        server.stop()
        cold.append(seconds)
    if cold:
        results.append(Result("Base environment build at server start (uv cache empty)", cold))
    return results


def table(results: list[Result]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"Deploy-to-Ready through cognite-sdk `functions.create(folder=...)` ({machine}).",
        "",
        "| Scenario | Runs | Median | p99 |",
        "|---|---|---|---|",
        *(result.row() for result in results),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="deploys per scenario")
    parser.add_argument(
        "--cold-runs", type=int, default=2, help="server starts on an empty uv cache"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fnhost-bench-deploy-") as root:
        output = table(measure(arguments.runs, arguments.cold_runs, Path(root)))
    print(output)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(output)


if __name__ == "__main__":
    main()
