"""A real multi-node Ray cluster on this machine, bound to the loopback address: a head with no
CPUs and no fnhost_node (it never hosts a function), and nodes that advertise fnhost_node,
each with a data directory of its own (as separate machines would have)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from fnhost.executor.ray import cluster as fnhost_cluster

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
