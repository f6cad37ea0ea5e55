"""Where the Ray executor sends calls and starts instances: pure choices."""

from typing import Any

from fnhost.executor.ray.placement import (
    Placed,
    evictable,
    pick_instance,
    pick_node,
    should_grow,
)


def placed(node: str, *, running: int = 0, last_used: float = 0.0, function_id: int = 1) -> Placed:
    actor: Any = None  # never touched by the choices
    return Placed(actor, function_id, node, pid=1, running=running, last_used=last_used)


def test_a_call_goes_to_the_least_busy_instance_with_a_free_slot() -> None:
    a, b = placed("a", running=1), placed("b", running=2)
    assert pick_instance([a, b], capacity=2, node_calls={}) is a
    assert pick_instance([placed("a", running=2)], capacity=2, node_calls={}) is None
    # Among equals, the instance on the node running fewer calls (of any function).
    c, d = placed("c"), placed("d")
    assert pick_instance([c, d], capacity=2, node_calls={"c": 5, "d": 1}) is d


def test_a_function_grows_when_calls_wait_or_every_slot_is_taken() -> None:
    limits = {"capacity": 2, "limit": 3}
    # Calls wait and nothing is starting: start one.
    assert should_grow(running=0, waiting=1, ready=0, starting=0, **limits)
    # The starting instance will take both waiting calls; a third needs another.
    assert not should_grow(running=0, waiting=2, ready=0, starting=1, **limits)
    assert should_grow(running=0, waiting=3, ready=0, starting=1, **limits)
    # Every slot taken: one more ahead of the next call; a free slot: no.
    assert should_grow(running=2, waiting=0, ready=1, starting=0, **limits)
    assert not should_grow(running=1, waiting=0, ready=1, starting=0, **limits)
    # Never beyond the per-function limit.
    assert not should_grow(running=6, waiting=5, ready=3, starting=0, **limits)


def test_a_new_instance_goes_to_a_node_without_one_of_its_function_with_room() -> None:
    nodes = ["a", "b", "c"]
    assert pick_node(nodes, hosting={"a"}, instances={"b": 3, "c": 1}, limit=4) == "c"
    assert pick_node(nodes, hosting={"a"}, instances={"b": 3, "c": 4}, limit=4) == "b"
    assert pick_node(nodes, hosting={"a", "b", "c"}, instances={}, limit=4) is None
    # A node where the function failed to start goes last, but is not ruled out.
    assert pick_node(nodes, hosting=set(), instances={"b": 2}, limit=4, failed={"a"}) == "c"
    assert pick_node(["a"], hosting=set(), instances={}, limit=4, failed={"a"}) == "a"


def test_room_is_made_by_the_least_recently_used_idle_instance_of_another_node() -> None:
    old = placed("b", last_used=1.0, function_id=2)
    recent = placed("b", last_used=5.0, function_id=3)
    busy = placed("c", running=1, last_used=0.0, function_id=4)
    here = placed("a", last_used=0.0, function_id=5)
    found = evictable([recent, old, busy, here], nodes=["a", "b", "c"], hosting={"a"})
    assert found is old
    assert evictable([busy], nodes=["c"], hosting=set()) is None
