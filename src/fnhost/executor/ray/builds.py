"""Builds on a Ray cluster: a deploy is Ready once one node has started the function's first
instance (code unpacked and checked, environment built with uv, handler imported in the
sandbox); other nodes build on first use. That instance stays warm for the first calls."""

from fnhost.builder.builder import Built
from fnhost.executor.ray.executor import RayExecutor
from fnhost.services.jobs import FunctionSpec


class RaySite:
    """The build `Site` of a Ray cluster: nothing of a build stays on the dispatcher's disk."""

    def __init__(self, executor: RayExecutor) -> None:
        self._executor = executor

    async def prepare(self) -> None:
        """Nothing: each node builds the environments it needs."""

    async def tidy(self, building: set[int]) -> None:
        """Nothing: idle instances are reaped by the executor."""

    async def build(self, spec: FunctionSpec) -> Built:
        return Built("", await self._executor.build(spec))

    def recorded(self, function_id: int) -> None:
        """Nothing to forget."""
