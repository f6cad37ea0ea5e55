"""fnhost under test: a real `fnhost serve` subprocess driven over raw HTTP and the SDK."""

import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
TOKEN = "fnhost-benchmark-token"
PROJECT = "bench"
API = f"/api/v1/projects/{PROJECT}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.rglob("*.py"):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Fnhost:
    """One `fnhost serve` on a free port with its own data directory."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = work / "fnhost-data"
        self.log = work / "fnhost.log"
        work.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "FNHOST_ADMIN_TOKEN": TOKEN,
            "FNHOST_ENVIRONMENTS_DIR": str(work / "environments"),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fnhost",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"fnhost serve did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def http(self) -> httpx.Client:
        """A keep-alive client with the admin token."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )

    def api(self) -> "Api":
        """The load generator's client (see `Api`)."""
        return Api(self.port)

    def deploy(self, http: httpx.Client, folder: str | Path) -> tuple[int, float]:
        """Upload and create a function from benchmarks/<folder> (or the folder at that path);
        (its id, seconds to Ready)."""
        code = _zip(HERE / folder)
        start = time.perf_counter()
        name = f"{Path(folder).name}-{uuid.uuid4().hex[:8]}"
        file = _ok(http.post(f"{API}/files", json={"name": f"{name}.zip"}))
        _ok(http.put(file["uploadUrl"], content=code))
        created = _ok(
            http.post(f"{API}/functions", json={"items": [{"name": name, "fileId": file["id"]}]})
        )
        function_id = created["items"][0]["id"]
        while True:
            found = _ok(http.post(f"{API}/functions/byids", json={"items": [{"id": function_id}]}))
            status = found["items"][0]["status"]
            if status == "Ready":
                return function_id, time.perf_counter() - start
            if status == "Failed":
                raise RuntimeError(f"deploy failed: {found['items'][0].get('error')}")
            time.sleep(0.005)


HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


class Api:
    """One keep-alive HTTP/1.1 connection with the admin token, on the standard library's
    http.client: the calls' load generator shares the two cores with the server, and this
    client costs a third of httpx's CPU per request (0.32 against 0.94 ms per warm call)."""

    def __init__(self, port: int) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._send(path, body)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the connection while it idled (uvicorn keeps one 5 s): reopen.
            self._connection.close()
            response = self._send(path, body)
        content = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{path}: {response.status} {content.decode()}")
        return json.loads(content)

    def _send(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        self._connection.request("POST", path, json.dumps(body), HEADERS)
        return self._connection.getresponse()

    def close(self) -> None:
        self._connection.close()


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


# A call still Running when POST .../call answers is polled after 1 ms, then twice as long each
# time up to 0.1 s: as a client does (the SDK sleeps up to 0.3 s and more), so that a loaded
# server is not also flooded with polls.
FIRST_POLL_SECONDS = 0.001
LONGEST_POLL_SECONDS = 0.1


def call_until_done(api: Api, function_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """POST /sessions, POST call, then POST calls/byids until the call is no longer Running."""
    session = api.post(f"{API}/sessions", {"items": [{"tokenExchange": True}]})
    call = api.post(
        f"{API}/functions/{function_id}/call",
        {"data": data, "nonce": session["items"][0]["nonce"]},
    )
    pause = FIRST_POLL_SECONDS
    while call["status"] == "Running":
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_POLL_SECONDS)
        call = api.post(
            f"{API}/functions/{function_id}/calls/byids", {"items": [{"id": call["id"]}]}
        )["items"][0]
    if call["status"] != "Completed":
        raise RuntimeError(f"call {call['id']} ended {call['status']}: {call.get('error')}")
    return call


def trivial_call(server: Fnhost, function_id: int) -> Callable[[], Callable[[], object]]:
    """A factory of the warm-call operation, one HTTP client per caller."""

    def make() -> Callable[[], object]:
        api = server.api()
        return lambda: call_until_done(api, function_id, {"x": 1})

    return make


def sdk_call(server: Fnhost, function_id: int) -> Callable[[], object]:
    """The SDK's `functions.call(wait=True)`, as a user would write it."""
    from cognite.client import ClientConfig, CogniteClient, global_config
    from cognite.client.credentials import Token

    global_config.disable_pypi_version_check = True
    client = CogniteClient(
        ClientConfig(
            client_name="fnhost-benchmark",
            project=PROJECT,
            base_url=server.url,
            credentials=Token(TOKEN),
        )
    )

    def call() -> object:
        done = client.functions.call(id=function_id, data={"x": 1}, wait=True)
        if done.status != "Completed":
            raise RuntimeError(f"SDK call ended {done.status}")
        return done

    return call


def get_requests_per_second(
    server: Fnhost, function_id: int, call_id: int, *, connections: int, seconds: int
) -> tuple[float, str]:
    """`GET .../calls/{id}` requests/s at `connections` keep-alive connections; (rate, tool)."""
    url = f"{server.url}{API}/functions/{function_id}/calls/{call_id}"
    wrk = shutil.which("wrk")
    if wrk is None:
        return _python_get_load(url, connections=connections, seconds=seconds), "httpx"
    output = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(match.group(1)), "wrk"


def _python_get_load(url: str, *, connections: int, seconds: int) -> float:
    """Fallback load generator; on 2 cores it may be the bottleneck, not the server."""
    import asyncio

    async def run() -> float:
        limits = httpx.Limits(max_connections=connections)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(limits=limits, headers=headers) as http:
            deadline = time.perf_counter() + seconds
            done = 0

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    (await http.get(url)).raise_for_status()
                    done += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return done / (time.perf_counter() - start)

    return asyncio.run(run())
