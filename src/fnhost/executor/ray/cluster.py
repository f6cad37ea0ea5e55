"""The little of Ray the executor uses, typed: the connection, the nodes that take function
instances, code shipped through the object store, and handles on instance actors.

Ray retries and restarts nothing here (max_restarts=0, max_task_retries=0): a call runs at
most once, and a lost instance is reported, never silently replaced mid-call. Instance actors
are detached and named in the namespace `fnhost` (`inst-<function>-<digest>-<node>`): they
outlive the dispatcher that made them, and the next one finds them by name.
"""

from dataclasses import dataclass, field
from typing import Any, cast

import ray
from ray._private import ray_constants
from ray.exceptions import GetTimeoutError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from fnhost.executor.ray.actor import Described, NodeInstance, Progress, Started, StartFailed
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings

# Nodes advertise this resource (any amount) to take function instances; others never do.
NODE_RESOURCE = "fnhost_node"
# What one instance asks of it: enough to be placed only there, too little to be the limit
# (FNHOST_RAY_INSTANCES_PER_NODE is).
RESOURCE_PER_INSTANCE = 0.001
NAMESPACE = "fnhost"
INSTANCE_PREFIX = "inst-"

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


def instance_names() -> list[str]:
    """The names of the instance actors alive on the cluster (whoever made them)."""
    names: list[str] = ray.util.list_named_actors()
    return [name for name in names if name.startswith(INSTANCE_PREFIX)]


def instance_name(spec: FunctionSpec, node_id: str) -> str:
    """The name of the function version's instance on a node (there is one at most)."""
    return f"{INSTANCE_PREFIX}{spec.function_id}-{spec.code_digest[:16]}-{node_id}"


def put(content: bytes) -> "ray.ObjectRef[bytes]":
    """Store `content` once in the object store; nodes read it from there."""
    return ray.put(content)


class InstanceActor:
    """A handle on one NodeInstance actor, placed on one node."""

    def __init__(self, handle: Any, name: str) -> None:
        self._handle = handle
        self.name = name

    @classmethod
    def create(cls, name: str, node_id: str, policy: Settings) -> "InstanceActor":
        """Create the actor `name` on `node_id` (and nowhere else, ever), or get it when an
        earlier dispatcher left it there."""
        handle = _NodeInstance.options(
            name=name,
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            resources={NODE_RESOURCE: RESOURCE_PER_INSTANCE},
            num_cpus=0,
            max_restarts=0,
            max_task_retries=0,
        ).remote(policy)
        return cls(handle, name)

    @classmethod
    def named(cls, name: str) -> "InstanceActor | None":
        """The instance actor `name`, if it is alive."""
        try:
            return cls(ray.get_actor(name, namespace=NAMESPACE), name)
        except ValueError:
            return None

    async def describe(self) -> Described | None:
        return cast(Described | None, await self._handle.describe.remote())

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

    def described(self, *, timeout_seconds: float) -> Described | None:
        """`describe`, waited for here (blocking)."""
        return cast(
            Described | None, ray.get(self._handle.describe.remote(), timeout=timeout_seconds)
        )


@dataclass
class NodeView:
    """A node of the cluster, as operators see it."""

    node_id: str
    address: str
    alive: bool
    takes_instances: bool  # advertises fnhost_node
    instances: list[tuple[str, Described]] = field(default_factory=list)  # name, what it runs


def survey(*, timeout_seconds: float) -> list[NodeView]:
    """Every node the cluster knows (dead ones too), with the instances on each (a blocking call
    to the cluster; an instance that does not answer in time is left out)."""
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    views = {
        node["NodeID"]: NodeView(
            node["NodeID"],
            node["NodeManagerAddress"],
            node["Alive"],
            node["Resources"].get(NODE_RESOURCE, 0) > 0,
        )
        for node in nodes
    }
    for name in instance_names():
        actor = InstanceActor.named(name)
        if actor is None:
            continue
        try:
            described = actor.described(timeout_seconds=timeout_seconds)
        except (RayError, GetTimeoutError):
            continue
        if described is not None and described.node_id in views:
            views[described.node_id].instances.append((name, described))
    return sorted(views.values(), key=lambda view: (not view.alive, view.node_id))
