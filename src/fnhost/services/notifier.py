"""Wake-ups between the parts of one process, in one place: who is told what, when.

A use case that changes something another part acts on (a call was queued, a function was
created or became Ready, a schedule was created) tells the notifier, and the notifier wakes the
part that acts on it. Parts are connected once at start (cli/server.py); a part that does not
run in this process (a request served by a replica without a dispatcher) is simply not woken,
and finds the change by polling the database.

    call queued         -> dispatcher: claim it now
    function created    -> builder: build it now
    function deleted    -> builder: remove its code
    function ready      -> dispatcher: warm its instance, and claim the calls waiting for it
    schedule created    -> scheduler: plan its first tick
"""

from typing import Protocol

from fnhost.services.jobs import CallStarter


class Wakeable(Protocol):
    def wake(self) -> None: ...


class DispatcherHooks(CallStarter, Wakeable, Protocol):
    def function_ready(self, function_id: int) -> None:
        """A function became Ready: warm its instance before its first call arrives."""
        ...


class Notifier:
    def __init__(self) -> None:
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
