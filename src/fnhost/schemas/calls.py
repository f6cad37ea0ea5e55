"""Function call wire models (spec F7-F13)."""

from typing import Any

from pydantic import Field

from fnhost.lifecycle import CallStatus
from fnhost.schemas.common import MAX_ID, TimeRange, WireModel


class CallCreate(WireModel):
    data: Any = None
    nonce: str | None = None


class CallError(WireModel):
    message: str
    trace: str | None = None


class CallRead(WireModel):
    id: int
    status: CallStatus
    start_time: int
    end_time: int | None = None
    function_id: int
    schedule_id: int | None = None
    scheduled_time: int | None = None
    error: CallError | None = None


class CallFilter(WireModel):
    status: CallStatus | None = None
    schedule_id: int | None = Field(None, ge=1, le=MAX_ID)
    start_time: TimeRange | None = None
    end_time: TimeRange | None = None


class CallList(WireModel):
    filter: CallFilter | None = None
    limit: int = Field(25, ge=1, le=10_000)
    cursor: str | None = None


class CallResponse(WireModel):
    call_id: int
    function_id: int
    response: Any = None

    def wire(self) -> dict[str, Any]:
        # `response: null` is meaningful here (a failed call), so it is never left out.
        return {"callId": self.call_id, "functionId": self.function_id, "response": self.response}


class CallNode(WireModel):
    """Where a call ran: fnhost's own, never part of the CDF call object."""

    id: int
    node: str | None  # the Ray node its instance was on; None when not run on a Ray cluster

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "node": self.node}


class LogEntry(WireModel):
    timestamp: int | None = None
    message: str
