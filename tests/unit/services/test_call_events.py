"""The in-process signals of call ends."""

from fnhost.lifecycle import CallEnd
from fnhost.services.call_events import CallEvents

END = CallEnd.completed("2", at=5)


async def test_an_end_resolves_the_waiters_of_that_call_only() -> None:
    events = CallEvents()
    first, second, other = events.watch(1), events.watch(1), events.watch(2)

    events.ended(1, END)

    assert first.result() == END
    assert second.result() == END
    assert not other.done()
    assert events.watched == 1


async def test_a_forgotten_waiter_is_dropped_and_ends_without_waiters_are_ignored() -> None:
    events = CallEvents()
    future = events.watch(1)

    events.forget(1, future)
    events.ended(1, END)
    events.ended(3, END)

    assert not future.done()
    assert events.watched == 0


async def test_a_cancelled_waiter_does_not_break_the_others() -> None:
    events = CallEvents()
    cancelled, waiting = events.watch(1), events.watch(1)
    cancelled.cancel()

    events.ended(1, END)

    assert waiting.result() == END
