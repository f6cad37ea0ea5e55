"""The little of Ray the executor uses, typed: the connection, the nodes that take function
instances, code shipped through the object store, and handles on instance actors.

Ray retries and restarts nothing here (max_restarts=0, max_task_retries=0): a call runs at
most once, and a lost instance is reported, never silently replaced mid-call.
"""

from typing import Any, cast

import ray
from ray._private import ray_constants
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from fnhost.executor.ray.actor import NodeInstance, Progress, Started, StartFailed
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings

# Nodes advertise this resource (any amount) to take function instances; others never do.
NODE_RESOURCE = "fnhost_node"
# What one instance asks of it: enough to be placed only there, too little to be the limit
# (FNHOST_RAY_INSTANCES_PER_NODE is).
RESOURCE_PER_INSTANCE = 0.001
NAMESPACE = "fnhost"

_NodeInstance = ray.remote(NodeInstance)


def connect(address: str) -> bool:
    """Join the cluster at `address` as a driver, unless this process already has; True when
    this call connected (and so should disconnect)."""
    if ray.is_initialized():
        return False
    # Run under `uv run`, Ray would replicate the driver's environment to every worker (its
    # working directory uploaded, workers started through uv): nodes run fnhost as installed
    # there, and functions get environments of their own.
    ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    return True


def disconnect() -> None:
    ray.shutdown()


def instance_nodes() -> list[str]:
    """Ids of the live nodes that take function instances (a call to the cluster's GCS)."""
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return [
        node["NodeID"]
        for node in nodes
        if node["Alive"] and node["Resources"].get(NODE_RESOURCE, 0) > 0
    ]


def put(content: bytes) -> "ray.ObjectRef[bytes]":
    """Store `content` once in the object store; nodes read it from there."""
    return ray.put(content)


class InstanceActor:
    """A handle on one NodeInstance actor, placed on one node."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @classmethod
    def create(cls, node_id: str, policy: Settings) -> "InstanceActor":
        """Create the actor on `node_id` (and nowhere else, ever)."""
        handle = _NodeInstance.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            resources={NODE_RESOURCE: RESOURCE_PER_INSTANCE},
            num_cpus=0,
            max_restarts=0,
            max_task_retries=0,
        ).remote(policy)
        return cls(handle)

    async def start(
        self, spec: FunctionSpec, code: "ray.ObjectRef[bytes]"
    ) -> Started | StartFailed:
        return cast(Started | StartFailed, await self._handle.start.remote(spec, code))

    async def invoke(self, job: CallJob, acked: list[int]) -> Progress:
        return cast(Progress, await self._handle.invoke.remote(job, acked))

    async def follow(self, call_id: int, acked: list[int]) -> Progress:
        return cast(Progress, await self._handle.follow.remote(call_id, acked))

    async def stop(self) -> None:
        await self._handle.stop.remote()

    def kill(self) -> None:
        """End the actor at once (its zygote and calls die with it)."""
        ray.kill(self._handle, no_restart=True)
