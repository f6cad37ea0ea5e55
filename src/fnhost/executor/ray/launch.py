"""Starting an instance actor on a node: the version's code put in Ray's object store once (read
from the blob store), the actor created there, and waited for until its zygote has imported the
handler, or until it says why it could not."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import ray
from ray.exceptions import RayError, RayTaskError

from fnhost.executor.instance import InstanceFailed
from fnhost.executor.ray import cluster
from fnhost.executor.ray.actor import StartFailed
from fnhost.executor.ray.cluster import InstanceActor
from fnhost.executor.ray.placement import Placed
from fnhost.executor.ray.versions import ImportFailed
from fnhost.services.jobs import FunctionSpec
from fnhost.settings import Settings

logger = logging.getLogger(__name__)

# Reads a function version's code zip by its blob digest.
CodeReader = Callable[[str], Awaitable[bytes]]


class Launcher:
    """Starts instances of function versions on nodes; `node_alive` says whether a node is
    still in the cluster (to tell a lost node from a dead worker)."""

    def __init__(
        self,
        settings: Settings,
        code: CodeReader,
        node_alive: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._settings = settings
        self._read_code = code
        self._node_alive = node_alive
        self._code: dict[str, asyncio.Task[ray.ObjectRef[bytes]]] = {}

    async def launch(self, spec: FunctionSpec, node: str) -> Placed:
        """Create an instance actor on `node` and wait until its zygote is ready."""
        code = await self._code_ref(spec.code_digest)
        settings = self._settings
        guard = (
            settings.builds.environment_build_timeout_seconds
            + settings.calls.instance_start_timeout_seconds
            + settings.executor.ray_call_guard_seconds
        )
        started_at = time.monotonic()
        actor = InstanceActor.create(cluster.instance_name(spec, node), node, settings)
        try:
            async with asyncio.timeout(guard):
                started = await actor.start(spec, code)
        except TimeoutError:
            actor.kill()
            raise InstanceFailed(
                f"The function's instance on Ray node {node} did not start within {guard} s"
            ) from None
        except RayTaskError as error:  # fnhost's own code failed on the node
            actor.kill()
            raise InstanceFailed(
                f"fnhost could not start the function's instance on Ray node {node}: "
                f"{error.cause!r}",
                trace=str(error),
            ) from None
        except RayError as error:
            actor.kill()
            where = "its node was lost" if not await self._node_alive(node) else "it died"
            raise InstanceFailed(
                f"The function's instance on Ray node {node} could not start: {where}",
                trace=str(error),
            ) from None
        if isinstance(started, StartFailed):
            actor.kill()
            failed = ImportFailed if started.importing else InstanceFailed
            raise failed(started.message, started.trace)
        logger.info(
            "instance of function %d started on node %s in %.2f s",
            spec.function_id,
            node,
            time.monotonic() - started_at,
            extra={"action": "instance_started", "function_id": spec.function_id, "node": node},
        )
        return Placed(
            actor,
            spec.function_id,
            started.node_id,
            started.pid,
            code_digest=spec.code_digest,
            runtime_version=started.runtime_version,
        )

    async def _code_ref(self, digest: str) -> "ray.ObjectRef[bytes]":
        """The version's code zip in the object store, put there once."""

        async def load() -> "ray.ObjectRef[bytes]":
            return await asyncio.to_thread(cluster.put, await self._read_code(digest))

        task = self._code.get(digest)
        if task is None or (task.done() and task.exception() is not None):
            task = self._code[digest] = asyncio.create_task(load())
        try:
            return await asyncio.shield(task)
        except Exception as error:
            raise InstanceFailed(f"The function's code could not be read: {error}") from None

    def keep_code(self, digests: set[str]) -> None:
        """Let go of the code of versions not in `digests` (no instance needs it)."""
        for digest in set(self._code) - digests:
            del self._code[digest]
