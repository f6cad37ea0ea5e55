"""A real multi-node Ray cluster on this machine, bound to the loopback address: a head with no
CPUs and no fnhost_node (it never hosts a function), and nodes that advertise fnhost_node,
each with a data directory of its own (as separate machines would have). And what drives an
executor without a server: function specs of sample folders, and call jobs."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from fnhost.executor.ray import cluster as fnhost_cluster
from fnhost.executor.ray.workspace import Workspace
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings

# Node loss seen within seconds (Ray's default takes about 65 s): what the README documents
# for `ray start --head`.
HEALTH_CHECKS = {
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}
# Sandboxed calls on these nodes use uids of their own, apart from test servers' (the default).
NODE_UID_BASE = 2_100_000_000


@dataclass
class LocalRayCluster:
    """The cluster, its fnhost nodes by Ray node id, and this process joined as a driver."""

    root: Path
    environments_dir: Path
    cluster: Cluster = field(init=False)
    nodes: dict[str, Any] = field(default_factory=dict)  # node id -> ray._private.node.Node

    def start(self, nodes: int = 2) -> LocalRayCluster:
        # Set by tests/conftest.py before Ray was imported (a benchmark sets it itself).
        assert os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") == "0"
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 0,
                "node_ip_address": "127.0.0.1",
                "include_dashboard": False,
                "_system_config": HEALTH_CHECKS,
            },
        )
        for _ in range(nodes):
            self.add_node()
        fnhost_cluster.connect(self.cluster.address)
        return self

    def add_node(self, *, own_environments: bool = False) -> str:
        """A new fnhost node with an empty data directory of its own (and, if asked, an empty
        environment cache: a fresh machine); its Ray node id."""
        data_dir = self.root / f"node{len(self.cluster.worker_nodes)}"
        environments = data_dir / "environments" if own_environments else self.environments_dir
        node = self.cluster.add_node(
            num_cpus=1,
            resources={fnhost_cluster.NODE_RESOURCE: 1},
            node_ip_address="127.0.0.1",
            env_vars={
                "FNHOST_DATA_DIR": str(data_dir),
                "FNHOST_ENVIRONMENTS_DIR": str(environments),
                "FNHOST_SANDBOX_UID_BASE": str(NODE_UID_BASE),
            },
        )
        self.nodes[node.node_id] = node
        return str(node.node_id)

    def kill(self, node_id: str) -> None:
        """Kill every process of a node at once, as a machine that loses power."""
        self.cluster.remove_node(self.nodes.pop(node_id), allow_graceful=False)

    def shutdown(self) -> None:
        ray.shutdown()
        self.cluster.shutdown()


class Functions:
    """Specs of functions made from folders, and their code zips by digest (as the blob store
    serves them to the executor)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def read(self, digest: str) -> bytes:
        """A code zip by digest, as the blob store reads it."""
        return self.blobs[digest]

    def spec(self, function_id: int, folder: Path) -> FunctionSpec:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
        content = buffer.getvalue()
        digest = hashlib.sha256(content).hexdigest()
        self.blobs[digest] = content
        return FunctionSpec(
            function_id=function_id,
            code_digest=digest,
            function_path="handler.py",
            runtime="py311",
            index_url=None,
            extra_index_urls=(),
            code_dir=Path("/nowhere"),  # the driver's disk is never read on the nodes
            environment="",
            env_vars={},
            cpu=1.0,
            memory_gb=1.5,
        )

    async def on_this_machine(self, settings: Settings, spec: FunctionSpec) -> FunctionSpec:
        """`spec` for the local executor: unpacked and built here by the nodes' own code."""
        workspace = Workspace(settings)
        code_dir = await workspace.code(spec, self.blobs[spec.code_digest])
        environment = await workspace.environment(spec, code_dir)
        return dataclasses.replace(spec, code_dir=code_dir, environment=environment.python)


_call_ids = itertools.count(1)


def call_job(spec: FunctionSpec, data: object, *, timeout_seconds: int) -> CallJob:
    """A call of `spec` with `data`, as the dispatcher would hand it to an executor."""
    call_id = next(_call_ids)
    return CallJob(
        call_id=call_id,
        project="ray",
        accepted_time=int(time.time() * 1000),
        function=spec,
        secrets={},
        data=data,
        call_info={"function_id": spec.function_id, "call_id": call_id},
        timeout_seconds=timeout_seconds,
        base_url="http://127.0.0.1:9",  # no server: these calls never use their `client`
        token="unused",
    )
