"""Ending calls: the one way a call reaches its terminal state, whatever ends it (its result, an
error, its deadline, a call that cannot start, a lost instance, a failed deploy, a stopped
server). A call ends once: the first end recorded wins, later ones change nothing. Each end is
announced to the requests of this process waiting for it, once its transaction committed, and
to other processes' (where the database is shared) by the transaction itself.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from fnhost import metrics
from fnhost.lifecycle import CallEnd, CallState
from fnhost.services.notifier import Change, Notifier
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store.calls import EndedCall
from fnhost.store.engine import Tx
from fnhost.store.functions import FunctionRecord

logger = logging.getLogger(__name__)

INTERRUPTED = "The server stopped while this call was running; it was not re-run"


def deploy_failed(function: FunctionRecord, *, at: int) -> CallEnd:
    """How a call of a function whose deploy failed ends: at once, with the deploy's reason."""
    return CallEnd.failed(
        f"The function's deployment failed: {function.error_message}",
        trace=function.error_trace or "",
        at=at,
    )


@dataclass(frozen=True)
class Ended:
    """Calls a unit of work ended, to announce once it committed."""

    calls: list[EndedCall]
    end: CallEnd

    @property
    def call_ids(self) -> list[int]:
        return [call.id for call in self.calls]


def end_in(
    tx: Tx,
    notifier: Notifier,
    *,
    call_ids: Sequence[int],
    end: CallEnd,
    claimant: str | None = None,
) -> Ended:
    """End, inside a unit of work, those of `call_ids` that have not ended (with `claimant`:
    only the call that dispatcher still holds); `announce` the result once the unit committed."""
    # Every call's own end is one call: the statement ending it also tells the others.
    told = notifier.telling_each(Change.CALLS_ENDED, told_end(end)) if len(call_ids) == 1 else None
    calls = calls_store.end(tx, call_ids=call_ids, ended=end, claimant=claimant, told=told)
    ended = Ended(calls, end)
    if ended.calls and told is None:
        notifier.tell_others(tx, Change.CALLS_ENDED, ended.call_ids, told_end(end))
    return ended


def told_end(end: CallEnd) -> str:
    """How calls ended, as a notification can say it: "state:end time" when that is all there
    is to say (a completed call: its response is not for the requests waiting); else nothing,
    and the listener reads the end with its error from the database."""
    return "" if end.error_message is not None else f"{end.state}:{end.end_time}"


def heard_end(detail: str) -> CallEnd | None:
    """The end `told_end` said, if it said one."""
    state, _, end_time = detail.partition(":")
    if state not in CallState.__members__.values() or not end_time.isdigit():
        return None
    return CallEnd(CallState(state), int(end_time))


async def end(
    platform: Platform, *, call_ids: Sequence[int], end: CallEnd, claimant: str | None = None
) -> list[int]:
    """End those of `call_ids` that have not ended (with `claimant`: only the call that
    dispatcher still holds), and announce it; returns those ended."""
    unit = partial(
        end_in, notifier=platform.notifier, call_ids=call_ids, end=end, claimant=claimant
    )
    # One call's end is one statement, its notification included (end_in), and running it
    # again ends nothing more: its own transaction. Several calls' ends are two statements.
    run = platform.db.run_statement if len(call_ids) == 1 else platform.db.run_write
    ended = await run(unit)
    announce(platform, ended)
    return ended.call_ids


def announce(platform: Platform, *ended: Ended) -> None:
    """Tell the requests waiting for these calls how they ended, and count them."""
    for each in ended:
        status = each.end.state.status
        for call in each.calls:
            platform.call_events.ended(call.id, each.end)
            metrics.CALLS_ENDED.labels(call.project, str(call.function_id), status).inc()
            logger.info(
                "call ended: %s",
                each.end.state,
                extra={"action": "call_ended", "call_id": call.id, "state": each.end.state},
            )
