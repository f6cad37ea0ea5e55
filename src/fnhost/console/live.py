"""Live views as server-sent events: a running call's log lines and its end, a deploy's status.

Each stream looks at the database every FNHOST_CONSOLE_LIVE_POLL_MS, so it sees calls run and
functions built by any server on the same database. A stream ends when what it watches ends,
or after FNHOST_CONSOLE_LIVE_MAX_SECONDS; the browser's EventSource then reconnects, and
`Last-Event-ID` (the last log line sent) makes it go on where it stopped."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from fnhost import errors, timings
from fnhost.console import templating
from fnhost.schemas.calls import CallRead
from fnhost.services import activity as activity_service
from fnhost.services import calls as calls_service
from fnhost.services import functions as functions_service
from fnhost.services.platform import Platform

# Log lines sent per look at the database.
LOG_BATCH = 500
DEPLOY_ENDED = ("Ready", "Failed")


def event(name: str, data: Any, *, event_id: int | None = None) -> str:
    """One server-sent event; `data` as JSON on one line."""
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _guarded(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """`events`, ended by a `gone` event when what they watch disappears (a deleted function)."""
    try:
        async for item in events:
            yield item
    except errors.FnhostError as error:
        yield event("gone", {"message": error.message})


def stream(events: AsyncIterator[str]) -> StreamingResponse:
    """A streaming response of server-sent `events`."""
    return StreamingResponse(
        _guarded(events),
        media_type="text/event-stream",
        # No buffering by proxies (nginx honours X-Accel-Buffering), no caching.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _ticks(platform: Platform) -> AsyncIterator[bool]:
    """Yields once per poll interval until the stream's time is up; True when a heartbeat is
    due."""
    settings = platform.settings.console
    deadline = time.monotonic() + settings.console_live_max_seconds
    last_beat = time.monotonic()
    while time.monotonic() < deadline:
        beat = time.monotonic() - last_beat >= timings.CONSOLE_HEARTBEAT_SECONDS
        if beat:
            last_beat = time.monotonic()
        yield beat
        await asyncio.sleep(settings.console_live_poll_ms / 1000)


def call_end(call: CallRead, response: Any) -> dict[str, Any]:
    """What the call page shows of an ended call, formatted as the page renders it."""
    return {
        "status": call.status,
        "endTime": templating.when(call.end_time),
        "duration": templating.duration(
            None if call.end_time is None else call.end_time - call.start_time
        ),
        "response": None if response is None else templating.pretty_json(response),
        "error": None if call.error is None else call.error.model_dump(),
    }


async def call_events(
    platform: Platform, *, project: str, function_id: int, call_id: int, after_id: int
) -> AsyncIterator[str]:
    """Log lines after line `after_id` as they are written, then the call's end."""
    async for heartbeat in _ticks(platform):
        call = await calls_service.get(
            platform, project=project, function_id=function_id, call_id=call_id
        )
        # Lines first, then the end: the last lines are written before the end is recorded.
        while lines := await activity_service.log_lines(
            platform,
            project=project,
            function_id=function_id,
            call_id=call_id,
            after_id=after_id,
            limit=LOG_BATCH,
        ):
            for line in lines:
                payload = {"time": templating.clock_time(line.timestamp), "message": line.message}
                yield event("log", payload, event_id=line.id)
            after_id = lines[-1].id
            if len(lines) < LOG_BATCH:
                break
        if call.status != "Running":
            found = await calls_service.response(
                platform, project=project, function_id=function_id, call_id=call_id
            )
            yield event("end", call_end(call, found.response))
            return
        if heartbeat:
            yield ": heartbeat\n\n"


async def deploy_events(
    platform: Platform, *, project: str, function_id: int, shown: str
) -> AsyncIterator[str]:
    """The function's status each time it changes from `shown`, until Ready or Failed."""
    async for heartbeat in _ticks(platform):
        function = await functions_service.get(platform, project=project, function_id=function_id)
        if function.status != shown:
            shown = function.status
            error = None if function.error is None else function.error.model_dump()
            yield event("status", {"status": shown, "error": error})
        if shown in DEPLOY_ENDED:
            yield event("end", {"status": shown})
            return
        if heartbeat:
            yield ": heartbeat\n\n"
