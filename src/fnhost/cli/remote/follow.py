"""Follow a call: its log lines as they appear, until it ends."""

import time
from collections.abc import Callable
from typing import Any

from fnhost.cli.remote import polling
from fnhost.cli.remote.api import Api

LogEntry = dict[str, Any]


def follow(
    api: Api, *, function_id: int, call_id: int, on_lines: Callable[[list[LogEntry]], None]
) -> dict[str, Any]:
    """Poll the call until it has ended, handing each new log line to `on_lines` once; the
    ended call.

    A call's logs only grow, and they are all stored before its end is: the lines not seen yet
    are those past the count already seen, and reading them after reading the call ended
    gets the last of them."""
    path = f"/functions/{function_id}/calls/{call_id}"
    seen = 0
    pauses = polling.delays()
    while True:
        call: dict[str, Any] = api.get(path)
        lines = api.get(f"{path}/logs")["items"][seen:]
        if lines:
            seen += len(lines)
            on_lines(lines)
        if call["status"] != "Running":
            return call
        time.sleep(next(pauses))
