"""Real `fnhost serve` processes for end-to-end tests, and SDK clients pointed at them."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
from cognite.client import ClientConfig, CogniteClient, global_config
from cognite.client.credentials import Token

global_config.disable_pypi_version_check = True

ADMIN_TOKEN = "fnhost-test-admin-token"
START_TIMEOUT_SECONDS = 60
# Ports tried by a server whose port is taken between free_port() and its start.
PORT_ATTEMPTS = 3


def own_uid_base() -> str:
    """Sandbox uids for one server of its own: servers running at once on this machine must not
    share uids (the per-uid process limit would count one server's calls against another's)."""
    return str(random.randrange(1_000_000_000, 2_000_000_000, 100_000))


@contextmanager
def stand_in(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stand-in HTTP service on a free port of 127.0.0.1 while in the block; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def stop_process(process: subprocess.Popen[bytes], sig: int) -> int:
    """Send `sig` unless it has exited, wait for it (killing it after 30 s); its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """One `fnhost serve` subprocess; restartable on the same data directory and port."""

    data_dir: Path
    environments_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # What runs the server: this checkout's package by default, an installed one if set.
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "fnhost", "serve"])
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    # The CA that signed the server's certificate, when it serves HTTPS.
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self.env.get("FNHOST_ADMIN_TOKEN", ADMIN_TOKEN)

    def start(self) -> RunningServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.env.setdefault("FNHOST_SANDBOX_UID_BASE", own_uid_base())
        env = {
            **self.base_env,
            "FNHOST_ADMIN_TOKEN": ADMIN_TOKEN,
            "FNHOST_ENVIRONMENTS_DIR": str(self.environments_dir),
            **self.env,
        }
        for _ in range(PORT_ATTEMPTS):
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [*self.command, "--port", str(self.port), "--data-dir", str(self.data_dir)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._ready():
                return self
            # The port free_port() chose was taken meanwhile (another worker's server, a Ray
            # worker): the server exits; it starts again on another port.
            if "address already in use" not in self.logs()[logged:]:
                raise RuntimeError(f"fnhost serve exited early:\n{self.logs()}")
            self.port = free_port()
        raise RuntimeError(f"fnhost serve found no free port:\n{self.logs()}")

    def _ready(self) -> bool:
        """True once this server answers on its port; False if it exited first."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                health = httpx.get(f"{self.url}/health", timeout=1, verify=self._verify())
                # Whoever answers must be this server, not another process on the same port.
                if health.status_code == 200 and self._listening():
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"fnhost serve did not start in time:\n{self.logs()}")

    def _listening(self) -> bool:
        """This server's process (or one it started, behind a wrapper) listens on the port."""
        assert self.process is not None
        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return False
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                for connection in process.net_connections(kind="tcp"):
                    if (
                        connection.status == psutil.CONN_LISTEN
                        and connection.laddr.port == self.port
                    ):
                        return True
        return False

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        return stop_process(self.process, sig)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def client(self, project: str | None = None, token: str | None = None) -> CogniteClient:
        return sdk_client(self.url, project or f"p-{uuid.uuid4().hex[:8]}", token or self.token)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=self._verify())

    def _verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True


def sdk_client(base_url: str, project: str, token: str) -> CogniteClient:
    return CogniteClient(
        ClientConfig(
            client_name="fnhost-tests",
            project=project,
            base_url=base_url,
            credentials=Token(token),
        )
    )


def wait_until(predicate: Any, timeout: float = 60, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
