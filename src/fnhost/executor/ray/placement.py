"""Where calls and instances go on the cluster: pure choices over what the executor tracks.

One instance per function per node; a call goes to the least busy instance with a free slot
(on the least busy node among equals); a function gets another instance, on the node with
the fewest instances, when its calls would otherwise wait, or when every slot it has is
taken (so the next call finds one ready).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pure choices: usable (and tested) without Ray
    from fnhost.executor.ray.cluster import InstanceActor


@dataclass(eq=False)
class Placed:
    """An instance of a function on a node, as the executor tracks it."""

    actor: InstanceActor
    function_id: int
    node_id: str
    pid: int  # its actor's worker process on the node
    code_digest: str = ""  # the function's version
    runtime_version: str = ""  # e.g. "Python 3.11.7", of the function's environment there
    running: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Calls whose outcome came back since the last request to it, so it can forget them.
    acked: list[int] = field(default_factory=list)

    def take_acks(self) -> list[int]:
        acked, self.acked = self.acked, []
        return acked


def pick_instance(
    ready: Iterable[Placed], *, capacity: int, node_calls: Mapping[str, int]
) -> Placed | None:
    """The instance a call should go to: the least busy with a free slot; among equals, the
    one on the node running the fewest calls."""
    free = [placed for placed in ready if placed.running < capacity]
    return min(free, key=lambda p: (p.running, node_calls.get(p.node_id, 0)), default=None)


def should_grow(
    *, running: int, waiting: int, ready: int, starting: int, capacity: int, limit: int
) -> bool:
    """Whether a function needs another instance: calls wait beyond the slots of the
    instances starting, or every slot of its ready instances is taken."""
    if ready + starting >= limit:
        return False
    if waiting > starting * capacity:
        return True
    return ready > 0 and starting == 0 and running >= ready * capacity


def pick_node(
    nodes: Sequence[str],
    *,
    hosting: set[str],
    instances: Mapping[str, int],
    limit: int,
    failed: Collection[str] = (),
) -> str | None:
    """A node for a new instance of a function: one without an instance of it and with room,
    the one with the fewest instances first; one where it `failed` to start lately only when
    no other will do (its problem may be the node's own: a missing runtime, a full disk)."""
    candidates = [n for n in nodes if n not in hosting and instances.get(n, 0) < limit]
    return min(candidates, key=lambda n: (n in failed, instances.get(n, 0)), default=None)


def evictable(
    placed: Iterable[Placed], *, nodes: Sequence[str], hosting: set[str]
) -> Placed | None:
    """The idle instance (least recently used) to stop to make room on a full node for a
    function that has no instance there."""
    idle = [p for p in placed if p.running == 0 and p.node_id in nodes and p.node_id not in hosting]
    return min(idle, key=lambda p: p.last_used, default=None)
