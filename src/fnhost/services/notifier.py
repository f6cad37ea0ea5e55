"""Wake-ups between the parts of fnhost, in one place: who is told what, when.

A use case that changes something another part acts on (a call was queued, a function was
created or became Ready, a schedule was created, a call ended) tells the notifier, and the
notifier wakes the part that acts on it. Parts are connected once at start (cli/); a part that
does not run in this process is not woken here.

Where the database is shared (PostgreSQL), the parts of other processes are told too: the unit
of work that makes the change also sends it on the database's channel (`tell_others`), so it
leaves at its commit and only then, and each process's listener (services/listening.py) wakes
its own parts as if the change were its own. Polls remain the safety net for a notification
missed while a listener reconnects.

    call queued         -> dispatcher: claim it now
    function created    -> builder: build it now
    function deleted    -> builder: remove its code
    function ready      -> dispatcher: warm its instance, and claim the calls waiting for it
    schedule created    -> scheduler: plan its first tick
    calls ended         -> requests holding their answer for them (across processes only:
                           within one, services/endings.py tells them)
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fnhost.services.jobs import CallStarter
from fnhost.store import notifications as notifications_store
from fnhost.store.engine import Tx


class Wakeable(Protocol):
    def wake(self) -> None: ...


class DispatcherHooks(CallStarter, Wakeable, Protocol):
    def function_ready(self, function_id: int) -> None:
        """A function became Ready: warm its instance before its first call arrives."""
        ...


class Change(StrEnum):
    """What other processes are told of."""

    CALL_QUEUED = "call_queued"
    FUNCTION_CREATED = "function_created"
    FUNCTION_DELETED = "function_deleted"
    FUNCTION_READY = "function_ready"
    SCHEDULE_CREATED = "schedule_created"
    CALLS_ENDED = "calls_ended"


@dataclass(frozen=True)
class Heard:
    """A change another process made, as its notification said."""

    change: Change
    ids: list[int]
    detail: str = ""  # what else the change says (of calls that ended: how, when it is told)


def payloads(origin: str, change: Change, ids: Sequence[int], detail: str = "") -> list[str]:
    """The notifications telling of `change` (of the things `ids`, with `detail`, which holds no
    space) from `origin`: as few as the database's limit on a payload allows ("origin change
    id,id,... detail")."""
    head, tail = _head_and_tail(origin, change, detail)
    found: list[str] = []
    chunk: list[str] = []
    size = len(head) + len(tail)
    for each in map(str, ids):
        if chunk and size + len(each) + 1 > notifications_store.PAYLOAD_MAX_BYTES:
            found.append(head + ",".join(chunk) + tail)
            chunk, size = [], len(head) + len(tail)
        chunk.append(each)
        size += len(each) + 1
    if chunk or not ids:
        found.append(head + ",".join(chunk) + tail)
    return found


def _head_and_tail(origin: str, change: Change, detail: str) -> tuple[str, str]:
    """What a payload says around its ids."""
    return f"{origin} {change} ", f" {detail}" if detail else ""


class Notifier:
    def __init__(self, *, shared: bool = False) -> None:
        """`shared`: other processes work on the same database and listen to it."""
        self._shared = shared
        # Tells this process's own notifications apart from the others' (its parts were
        # woken already, in-process).
        self.origin = secrets.token_hex(8)
        self._dispatcher: DispatcherHooks | None = None
        self._builder: Wakeable | None = None
        self._scheduler: Wakeable | None = None

    def connect(
        self,
        *,
        dispatcher: DispatcherHooks | None = None,
        builder: Wakeable | None = None,
        scheduler: Wakeable | None = None,
    ) -> None:
        """The parts running in this process (each at most once, at start)."""
        self._dispatcher = dispatcher or self._dispatcher
        self._builder = builder or self._builder
        self._scheduler = scheduler or self._scheduler

    @property
    def starter(self) -> CallStarter | None:
        """This process's dispatcher, to start a call straight from the request creating it."""
        return self._dispatcher

    def tell_others(
        self, tx: Tx, change: Change, ids: Sequence[int] = (), detail: str = ""
    ) -> None:
        """Inside the unit of work making `change` (of the things `ids`, with `detail`): other
        processes hear of it when it commits."""
        if not self._shared:
            return
        for payload in payloads(self.origin, change, ids, detail):
            notifications_store.notify(tx, payload=payload)

    def telling_each(self, change: Change, detail: str = "") -> notifications_store.EachTold | None:
        """How a statement of the store tells other processes of `change` (with `detail`) of
        each thing it returns, by itself, as `tell_others` would of one; None where nobody
        listens."""
        if not self._shared:
            return None
        return notifications_store.EachTold(*_head_and_tail(self.origin, change, detail))

    def heard(self, payload: str) -> Heard | None:
        """A notification from the database: the change another process made (its parts are
        woken here), or None for this process's own and for what is not fnhost's."""
        origin, change, ids, detail, *_ = [*payload.split(" "), "", "", ""]
        if origin == self.origin or change not in Change.__members__.values():
            return None
        heard = Heard(Change(change), [int(i) for i in ids.split(",") if i.isdigit()], detail)
        if heard.change == Change.FUNCTION_READY:
            for function_id in heard.ids:
                self.function_ready(function_id)
        elif heard.change == Change.CALL_QUEUED:
            self.call_queued()
        elif heard.change == Change.FUNCTION_CREATED:
            self.function_created()
        elif heard.change == Change.FUNCTION_DELETED:
            self.function_deleted()
        elif heard.change == Change.SCHEDULE_CREATED:
            self.schedule_created()
        return heard

    def wake_all(self) -> None:
        """Every part looks for work: changes may have gone unheard (a listener reconnected)."""
        for part in (self._dispatcher, self._builder, self._scheduler):
            if part is not None:
                part.wake()

    def call_queued(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.wake()

    def function_created(self) -> None:
        if self._builder is not None:
            self._builder.wake()

    def function_deleted(self) -> None:
        if self._builder is not None:
            self._builder.wake()

    def function_ready(self, function_id: int) -> None:
        if self._dispatcher is not None:
            self._dispatcher.function_ready(function_id)
            self._dispatcher.wake()

    def schedule_created(self) -> None:
        if self._scheduler is not None:
            self._scheduler.wake()
