"""The Ray executor: runs each call on an instance actor of its function on a node of the
cluster, streams its log lines back while it runs, and says honestly how it ended.

At most once: Ray restarts and retries nothing, a call is handed to an instance once and
only followed after that. A call whose instance or node is lost ends Failed saying so; a
call whose instance does not report its end by its deadline plus a margin (a hung or cut-off
node) ends Failed too and the instance is killed. The zygote on the node enforces the call's
own timeout exactly, as on a single machine.

Instances outlive this executor (detached actors): where a call is about to be handed is
recorded first (`handing`), and an executor of the next active dispatcher takes in the
instances left on the cluster (`resume`) and follows the calls they were handed (`follow`).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ray.exceptions import ActorUnavailableError, RayActorError, RayError

from fnhost import clock, metrics, timings
from fnhost.executor.base import LogSink
from fnhost.executor.call import could_not_start
from fnhost.executor.instance import InstanceFailed
from fnhost.executor.ray import cluster
from fnhost.executor.ray.actor import Progress
from fnhost.executor.ray.cluster import InstanceActor
from fnhost.executor.ray.launch import CodeReader, Launcher
from fnhost.executor.ray.placement import Placed, evictable, pick_instance, pick_node, should_grow
from fnhost.executor.ray.versions import Version, build_failure
from fnhost.lifecycle import CallEnd
from fnhost.services.jobs import CallJob, FunctionSpec
from fnhost.settings import Settings

logger = logging.getLogger(__name__)

VersionKey = tuple[int, str]  # function id, code digest
# Told (call id, instance name, node id) before a call is handed to an instance; raises when
# the call must not be handed after all (it is no longer this dispatcher's).
Handing = Callable[[int, str, str], Awaitable[None]]


class RayExecutor:
    """Runs calls on instance actors on the cluster's fnhost nodes."""

    def __init__(
        self, settings: Settings, code: CodeReader, *, handing: Handing | None = None
    ) -> None:
        self._settings = settings
        self._launcher = Launcher(settings, code, self._node_alive)
        self._handing = handing
        self._functions: dict[VersionKey, Version] = {}
        self._nodes: list[str] = []
        self._nodes_read = -timings.RAY_NODES_MAX_AGE_SECONDS
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._connected = False

    @classmethod
    def connect(
        cls, settings: Settings, code: CodeReader, *, handing: Handing | None = None
    ) -> "RayExecutor":
        """An executor on the cluster at FNHOST_RAY_ADDRESS (joined now, as a driver)."""
        address = settings.executor.ray_address
        assert address is not None  # the settings refuse ray without an address
        executor = cls(settings, code, handing=handing)
        executor._connected = cluster.connect(address)
        return executor

    def prewarm(self, spec: FunctionSpec) -> None:
        """Start an instance of the function, unless it has one, so its first call is warm."""
        self._ensure_reaper()
        self._spawn(self._prewarm(spec))

    async def _prewarm(self, spec: FunctionSpec) -> None:
        function = self._function(spec)
        if not function.ready and not function.starting:
            await self._grow(function, spec, force=True)

    async def build(self, spec: FunctionSpec) -> str:
        """Start the function's first instance, on one node: its code unpacked and checked,
        its environment built, its handler imported in the sandbox (a deploy's checks); the
        runtime's version. BuildFailed says why it could not start; the instance stays warm."""
        self._ensure_reaper()
        function = self._function(spec)
        if not function.ready and not function.starting:
            await self._grow(function, spec, force=True)
            if not function.starting:
                raise build_failure(self._no_node(), spec)
        while function.starting and not function.ready:
            await function.changed()
        if function.ready:
            return function.ready[0].runtime_version
        raise build_failure(function.failure or self._no_node(), spec)

    async def run(self, job: CallJob, log: LogSink) -> CallEnd:
        self._ensure_reaper()
        function = self._function(job.function)
        try:
            placed = await self._acquire(function, job.function)
        except InstanceFailed as failure:
            return could_not_start(failure)
        try:
            if self._handing is not None:
                await self._handing(job.call_id, placed.actor.name, placed.node_id)
            outcome = await self._call(
                function,
                placed,
                job.call_id,
                log,
                first=lambda: placed.actor.invoke(job, placed.take_acks()),
                timeout_seconds=job.timeout_seconds,
            )
        finally:
            self._release(function, placed)
        if outcome is None:  # refused: another dispatcher asked after it first
            outcome = CallEnd.failed(
                f"The call could not be handed to its instance on Ray node {placed.node_id}; "
                "it did not run",
                at=clock.now_ms(),
            )
        self._log_ran(job.call_id, placed, outcome)
        return outcome

    async def follow(self, call_id: int, instance: str, node: str, log: LogSink) -> CallEnd | None:
        """Follow to its end a call an earlier dispatcher handed to `instance` on `node`; None
        when the instance never received it (and never will: it refuses it from now on)."""
        placed = next((p for p in self.instances() if p.actor.name == instance), None)
        if placed is None:
            return CallEnd.failed(await self._lost(node), at=clock.now_ms())
        function = self._functions[(placed.function_id, placed.code_digest)]
        placed.running += 1
        try:
            outcome = await self._call(
                function,
                placed,
                call_id,
                log,
                first=lambda: self._follow(placed, call_id),
                timeout_seconds=self._settings.calls.call_timeout_seconds,
            )
        finally:
            self._release(function, placed)
        if outcome is not None:
            self._log_ran(call_id, placed, outcome)
        return outcome

    async def resume(self) -> None:
        """Take in the instances earlier dispatchers left on the cluster (those that never
        finished starting are stopped)."""
        self._ensure_reaper()
        known = {placed.actor.name for placed in self.instances()}
        for name in await asyncio.to_thread(cluster.instance_names):
            actor = await asyncio.to_thread(InstanceActor.named, name)
            if actor is None or name in known:
                continue
            try:
                async with asyncio.timeout(timings.RAY_INSTANCE_STOP_SECONDS):
                    described = await actor.describe()
            except (RayError, TimeoutError):
                described = None
            if described is None:
                with contextlib.suppress(RayError, ValueError):
                    actor.kill()
                continue
            placed = Placed(
                actor,
                described.function_id,
                described.node_id,
                described.pid,
                code_digest=described.code_digest,
            )
            self._functions.setdefault(
                (described.function_id, described.code_digest), Version()
            ).ready.append(placed)
            logger.info(
                "took in the instance %s (calls %s)",
                name,
                described.calls,
                extra={"action": "instance_resumed", "node": described.node_id},
            )
        metrics.INSTANCES_WARM.set(len(self.instances()))

    def _release(self, function: Version, placed: Placed) -> None:
        placed.running -= 1
        placed.last_used = time.monotonic()
        function.notify()

    @staticmethod
    def _log_ran(call_id: int, placed: Placed, outcome: CallEnd) -> None:
        logger.info(
            "call %d ran on node %s: %s",
            call_id,
            placed.node_id,
            outcome.state,
            extra={"action": "call_ran", "call_id": call_id, "node": placed.node_id},
        )

    def instances(self) -> list[Placed]:
        """Every ready instance, for operators."""
        return [placed for function in self._functions.values() for placed in function.ready]

    def _function(self, spec: FunctionSpec) -> Version:
        return self._functions.setdefault((spec.function_id, spec.code_digest), Version())

    async def _acquire(self, function: Version, spec: FunctionSpec) -> Placed:
        """A slot on an instance of the function, waiting for one to start or free up."""
        capacity = self._settings.executor.ray_calls_per_instance
        function.waiting += 1
        try:
            while True:
                placed = pick_instance(
                    function.ready, capacity=capacity, node_calls=self._node_calls()
                )
                if placed is not None:
                    placed.running += 1
                    break
                await self._grow(function, spec)
                if not function.ready and not function.starting:
                    raise self._no_node()  # nothing runs it, and no node could take more
                failures = function.failures
                await function.changed()
                # A start this call was waiting for failed, and no instance can take it.
                if function.failures != failures and not function.starting and not function.ready:
                    assert function.failure is not None
                    raise function.failure
        finally:
            function.waiting -= 1
        await self._grow(function, spec)  # the next call finds a free slot
        return placed

    def _no_node(self) -> InstanceFailed:
        limit = self._settings.executor.ray_instances_per_node
        if not self._nodes:
            return InstanceFailed(
                f"No live Ray node offers the resource {cluster.NODE_RESOURCE} "
                f"(start nodes with `ray start --resources '{{\"{cluster.NODE_RESOURCE}\": 1}}'`)"
            )
        return InstanceFailed(
            f"No Ray node has room for another function instance: all {len(self._nodes)} hold "
            f"{limit} busy instances (FNHOST_RAY_INSTANCES_PER_NODE)"
        )

    async def _grow(self, function: Version, spec: FunctionSpec, *, force: bool = False) -> None:
        """Start instances of the function while it needs more and a node has room."""
        settings = self._settings.executor
        while force or should_grow(
            running=function.running,
            waiting=function.waiting,
            ready=len(function.ready),
            starting=len(function.starting),
            capacity=settings.ray_calls_per_instance,
            limit=settings.ray_instances_per_function,
        ):
            force = False
            node = await self._room_for(function)
            if node is None:
                return
            function.starting[node] = self._spawn(self._start(function, spec, node))

    async def _room_for(self, function: Version) -> str | None:
        """A node for a new instance of `function`, making room on a full one if need be."""
        if time.monotonic() - self._nodes_read > timings.RAY_NODES_MAX_AGE_SECONDS:
            await self._refresh_nodes()
        hosting = function.hosting()
        limit = self._settings.executor.ray_instances_per_node
        counts = self._node_instances()
        node = pick_node(
            self._nodes, hosting=hosting, instances=counts, limit=limit, failed=function.failed_on
        )
        if node is not None:
            return node
        idle = evictable(self.instances(), nodes=self._nodes, hosting=hosting)
        if idle is None:
            return None
        await self._retire(idle)
        return idle.node_id

    async def _start(self, function: Version, spec: FunctionSpec, node: str) -> None:
        try:
            function.ready.append(await self._launcher.launch(spec, node))
            function.failed_on.discard(node)
            metrics.INSTANCES_WARM.set(len(self.instances()))
        except Exception as error:
            failure = (
                error
                if isinstance(error, InstanceFailed)
                else InstanceFailed(f"fnhost could not start the function's instance: {error}")
            )
            function.failure = failure
            function.failures += 1
            function.failed_on.add(node)
            logger.warning(
                "instance of function %d did not start on node %s: %s",
                spec.function_id,
                node,
                failure.message,
                extra={"action": "instance_failed", "node": node},
            )
        finally:
            del function.starting[node]
            function.notify()

    async def _call(
        self,
        function: Version,
        placed: Placed,
        call_id: int,
        log: LogSink,
        *,
        first: Callable[[], Awaitable[Progress]],
        timeout_seconds: int,
    ) -> CallEnd | None:
        """Follow a call from its `first` report (handing it to its instance, once, or asking
        after it) to its end; None when the instance never received it and refuses it."""
        deadline = (
            timeout_seconds
            + self._settings.calls.instance_start_timeout_seconds
            + self._settings.executor.ray_call_guard_seconds
        )
        try:
            async with asyncio.timeout(deadline):
                try:
                    progress = await first()
                except ActorUnavailableError:
                    progress = await self._follow(placed, call_id)
                while True:
                    for timestamp, line in progress.lines:
                        log(timestamp, line)
                    if progress.never_ran:
                        return None
                    if progress.outcome is not None:
                        placed.acked.append(call_id)
                        return progress.outcome
                    progress = await self._follow(placed, call_id)
        except TimeoutError:
            self._drop(function, placed)
            return CallEnd.failed(
                f"The call's instance on Ray node {placed.node_id} did not report "
                f"its end within {deadline} s (its node may be hung or cut off); the instance "
                "was stopped and the call was not re-run",
                at=clock.now_ms(),
            )
        except RayActorError as error:
            self._drop(function, placed)
            return CallEnd.failed(
                await self._lost(placed.node_id), trace=str(error), at=clock.now_ms()
            )

    async def _follow(self, placed: Placed, call_id: int) -> Progress:
        """The call's next report; an instance Ray reports unreachable (it may come back) is
        asked again until it answers or is declared dead."""
        while True:
            try:
                return await placed.actor.follow(call_id, placed.take_acks())
            except ActorUnavailableError:
                await asyncio.sleep(timings.RAY_UNREACHABLE_RETRY_SECONDS)

    async def _lost(self, node: str) -> str:
        """Why a call's instance is gone: its node, or only its worker process."""
        deadline = time.monotonic() + timings.RAY_NODE_DEATH_WAIT_SECONDS
        while await self._node_alive(node):
            if time.monotonic() >= deadline:
                return (
                    f"The instance running this call was lost (its Ray worker on node {node} "
                    "died); the call was not re-run"
                )
            await asyncio.sleep(timings.RAY_UNREACHABLE_RETRY_SECONDS)
        self._forget_node(node)
        return f"The node running this call was lost (Ray node {node}); the call was not re-run"

    async def _node_alive(self, node: str) -> bool:
        await self._refresh_nodes()
        return node in self._nodes

    async def _refresh_nodes(self) -> None:
        self._nodes = await asyncio.to_thread(cluster.instance_nodes)
        self._nodes_read = time.monotonic()

    def _forget_node(self, node: str) -> None:
        """Drop every instance on a node that is gone (their calls fail as they notice)."""
        for function in self._functions.values():
            for placed in [p for p in function.ready if p.node_id == node]:
                self._drop(function, placed)

    def _drop(self, function: Version, placed: Placed) -> None:
        """Forget an instance that is lost or hung, and make sure it is dead."""
        if placed in function.ready:
            function.ready.remove(placed)
            function.notify()
        with contextlib.suppress(RayError, ValueError):
            placed.actor.kill()

    async def _retire(self, placed: Placed) -> None:
        """Stop an idle instance cleanly (its zygote, its uid), then end its actor."""
        for function in self._functions.values():
            if placed in function.ready:
                function.ready.remove(placed)
        with contextlib.suppress(RayError, TimeoutError):
            await asyncio.wait_for(placed.actor.stop(), timings.RAY_INSTANCE_STOP_SECONDS)
        with contextlib.suppress(RayError, ValueError):
            placed.actor.kill()

    def _node_calls(self) -> dict[str, int]:
        calls: dict[str, int] = {}
        for placed in self.instances():
            calls[placed.node_id] = calls.get(placed.node_id, 0) + placed.running
        return calls

    def _node_instances(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for function in self._functions.values():
            for node in function.hosting():
                counts[node] = counts.get(node, 0) + 1
        return counts

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap())

    async def _reap(self) -> None:
        """Until cancelled: retire idle instances, drop those of lost nodes, and let go of
        code no instance needs."""
        while True:
            await asyncio.sleep(timings.INSTANCE_REAP_SECONDS)
            try:
                await self._reap_once()
            except Exception:  # the cluster may be unreachable for a while: try again later
                logger.exception("reaping instances failed", extra={"action": "reap_failed"})

    async def _reap_once(self) -> None:
        await self._refresh_nodes()
        idle_for = self._settings.calls.instance_idle_seconds
        now = time.monotonic()
        for version, function in list(self._functions.items()):
            for placed in list(function.ready):
                if placed.node_id not in self._nodes:
                    self._drop(function, placed)
                elif not placed.running and now - placed.last_used > idle_for:
                    await self._retire(placed)
            if not function.ready and not function.starting and not function.waiting:
                del self._functions[version]
        self._launcher.keep_code({digest for _, digest in self._functions})

    async def leave(self) -> None:
        """Stop following anything, and leave the instances, with the calls they run, to the
        next active dispatcher."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._functions.clear()
        self._launcher.keep_code(set())

    async def close(self) -> None:
        """Stop every instance, then leave the cluster."""
        instances = self.instances()
        await self.leave()
        await asyncio.gather(*(self._retire(placed) for placed in instances))
        if self._connected:
            cluster.disconnect()
