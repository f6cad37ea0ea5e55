"""What one process tells the others through the database, and what it makes of what it hears."""

from fnhost.services.notifier import Change, Notifier, payloads
from fnhost.store.notifications import PAYLOAD_MAX_BYTES


class Part:
    def __init__(self) -> None:
        self.woken = 0
        self.ready: list[int] = []

    def wake(self) -> None:
        self.woken += 1

    def function_ready(self, function_id: int) -> None:
        self.ready.append(function_id)


def test_many_ids_go_in_as_few_payloads_as_the_limit_allows() -> None:
    ids = list(range(1_000_000, 1_003_000))
    sent = payloads("origin", Change.CALLS_ENDED, ids)

    assert len(sent) > 1
    assert all(len(payload.encode()) <= PAYLOAD_MAX_BYTES for payload in sent)
    # Each but the last is full: one more id would not fit.
    assert all(len(payload) + len(",1000000") > PAYLOAD_MAX_BYTES for payload in sent[:-1])
    heard = [Notifier().heard(payload) for payload in sent]
    assert [i for each in heard if each is not None for i in each.ids] == ids
    assert payloads("origin", Change.CALL_QUEUED, []) == ["origin call_queued "]
    (told,) = payloads("origin", Change.CALLS_ENDED, [4, 5], "completed:1800000000000")
    heard = Notifier().heard(told)
    assert heard is not None
    assert (heard.ids, heard.detail) == ([4, 5], "completed:1800000000000")


def test_what_another_process_changed_wakes_the_parts_that_act_on_it() -> None:
    notifier = Notifier()
    dispatcher, builder, scheduler = Part(), Part(), Part()
    notifier.connect(dispatcher=dispatcher, builder=builder, scheduler=scheduler)  # type: ignore[arg-type]

    (ready,) = payloads("elsewhere", Change.FUNCTION_READY, [7])
    heard = notifier.heard(ready)
    notifier.heard(payloads("elsewhere", Change.CALL_QUEUED, [])[0])
    notifier.heard(payloads("elsewhere", Change.FUNCTION_CREATED, [8])[0])
    notifier.heard(payloads("elsewhere", Change.SCHEDULE_CREATED, [9])[0])

    assert heard is not None and heard.change == Change.FUNCTION_READY and heard.ids == [7]
    assert (dispatcher.ready, dispatcher.woken, builder.woken, scheduler.woken) == ([7], 2, 1, 1)


def test_its_own_notifications_and_foreign_ones_are_ignored() -> None:
    notifier = Notifier()
    builder = Part()
    notifier.connect(builder=builder)
    own = Notifier().origin  # another notifier's origin is not this one's
    assert notifier.heard(payloads(notifier.origin, Change.FUNCTION_CREATED, [1])[0]) is None
    assert notifier.heard("something else entirely") is None
    assert notifier.heard(payloads(own, Change.FUNCTION_CREATED, [1])[0]) is not None
    assert builder.woken == 1


def test_a_statement_telling_of_each_row_says_what_tell_others_would_of_one() -> None:
    shared = Notifier(shared=True)
    told = shared.telling_each(Change.CALLS_ENDED, "completed:1800000000000")

    assert told is not None
    (one,) = payloads(shared.origin, Change.CALLS_ENDED, [42], "completed:1800000000000")
    assert told.head + "42" + told.tail == one
    failed = shared.telling_each(Change.CALLS_ENDED)
    assert failed is not None
    assert failed.head + "42" + failed.tail == payloads(shared.origin, Change.CALLS_ENDED, [42])[0]
    assert Notifier().telling_each(Change.CALLS_ENDED) is None  # nobody listens: SQLite
