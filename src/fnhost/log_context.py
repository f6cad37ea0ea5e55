"""What a log line is about: the request, project, function and call being handled.

The ids live in context variables, so every line logged while handling a request (in its task)
or running a call (in the call's task, and the tasks it starts) carries them without each
`logger` call passing them. Set them where they become known: the request id in the request
middleware, the project and function when the route authorizes, the call in the dispatcher.
"""

import logging
from contextvars import ContextVar

Id = str | int
FIELDS = ("request_id", "project", "function_id", "call_id")
_CONTEXT: dict[str, ContextVar[Id | None]] = {
    name: ContextVar(name, default=None) for name in FIELDS
}


def bind(**ids: Id | None) -> None:
    """Attach `ids` (among FIELDS) to what the current task logs from now on.

    An asyncio task starts with a copy of its creator's context, so the value stays within
    the task that sets it (a request's, a call's) and the tasks it starts."""
    for name, value in ids.items():
        _CONTEXT[name].set(value)


def current() -> dict[str, Id]:
    """The ids bound in the current context."""
    return {name: value for name, var in _CONTEXT.items() if (value := var.get()) is not None}


class ContextIds(logging.Filter):
    """Stamps each record with the ids bound in its context; an id passed in `extra` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
