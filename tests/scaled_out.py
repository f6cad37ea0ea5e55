"""fnhost scaled out on this machine, as the README's "Scale out" sets it up: a Ray cluster
(tests/ray_cluster.py), PostgreSQL, `fnhost dispatcher` processes (one active, the others
standing by) and `fnhost serve` API replicas, each process on a data directory of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from tests.ray_cluster import LocalRayCluster
from tests.servers import START_TIMEOUT_SECONDS, RunningServer, stop_process, wait_until

# What a dispatcher logs when it becomes the active one, and when it stands by (cli/dispatcher.py).
ACTIVE = "active: dispatching"
STANDBY = "standing by for the dispatchers' lock"
LOST = "lost the dispatchers' lock"


@dataclass
class RunningDispatcher:
    """One `fnhost dispatcher` subprocess."""

    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    # Where this run's lines start in the log (a restart appends to it).
    started_at: int = 0

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-dispatcher.log"

    def start(self) -> RunningDispatcher:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.started_at = len(self.logs())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fnhost", "dispatcher", "--data-dir", str(self.data_dir)],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # Standing by, or active: either way, connected to the cluster and the database.
        wait_until(lambda: self.role() is not None or self.exited(), timeout=START_TIMEOUT_SECONDS)
        assert not self.exited(), f"fnhost dispatcher exited early:\n{self.logs()}"
        return self

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def role(self) -> str | None:
        """Its role (active, standby) as this run's log says last; None before either."""
        log = self.logs()[self.started_at :]
        active, standby = log.rfind(ACTIVE), max(log.rfind(STANDBY), log.rfind(LOST))
        if max(active, standby) < 0:
            return None
        return "active" if active > standby else "standby"

    def wait_active(self, timeout: float = 30) -> None:
        wait_until(lambda: self.role() == "active", timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        return stop_process(self.process, sig)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class ScaledOut:
    """The processes of a scaled-out deployment on `cluster` and the database `database_url`."""

    cluster: LocalRayCluster
    database_url: str
    root: Path
    environments_dir: Path
    # Settings every process gets (the same everywhere, as in production).
    env: dict[str, str] = field(default_factory=dict)
    dispatchers: list[RunningDispatcher] = field(default_factory=list)
    replicas: list[RunningServer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {
            "FNHOST_DATABASE_URL": self.database_url,
            "FNHOST_EXECUTOR": "ray",
            "FNHOST_RAY_ADDRESS": self.cluster.cluster.address,
            "FNHOST_SECRET_KEY": Fernet.generate_key().decode(),
            **self.env,
        }

    def add_dispatcher(self, **env: str) -> RunningDispatcher:
        dispatcher = RunningDispatcher(
            self.root / f"dispatcher{len(self.dispatchers)}", {**self.env, **env}
        )
        self.dispatchers.append(dispatcher)
        return dispatcher.start()

    def add_replica(self, **env: str) -> RunningServer:
        replica = RunningServer(
            data_dir=self.root / f"replica{len(self.replicas)}",
            environments_dir=self.environments_dir,
            env={**self.env, **env},
        )
        self.replicas.append(replica)
        return replica.start()

    def active(self) -> RunningDispatcher:
        """The active dispatcher (waiting a moment for one to take over)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            live = [d for d in self.dispatchers if not d.exited() and d.role() == "active"]
            if len(live) == 1:
                return live[0]
            time.sleep(0.05)
        raise AssertionError("no single active dispatcher")

    def stop(self) -> None:
        for process in [*self.replicas, *self.dispatchers]:
            if process.process is not None:
                process.stop()

    def logs(self) -> str:
        """Every process's log, each under its name (for a failed test)."""
        return "\n".join(
            f"===== {process.data_dir.name}\n{process.logs()}"
            for process in [*self.replicas, *self.dispatchers]
        )
