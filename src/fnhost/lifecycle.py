"""The states a function and a call go through, and how a call ends: one vocabulary for every
layer. The values are the strings stored in the database and, for functions, sent on the wire."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

# What clients see of a call: Running from creation until it ends, because the SDK's wait loop
# stops on any other value.
CallStatus = Literal["Running", "Completed", "Failed", "Timeout"]


class FunctionStatus(StrEnum):
    """A function's deployment: Queued -> Deploying -> Ready | Failed."""

    QUEUED = "Queued"
    DEPLOYING = "Deploying"
    READY = "Ready"
    FAILED = "Failed"


class CallState(StrEnum):
    """A call inside fnhost: queued (accepted, waiting for a slot), running (claimed by a
    dispatcher), then one terminal state."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def status(self) -> CallStatus:
        """The status clients see."""
        return _STATUS[self]

    @property
    def ended(self) -> bool:
        return self not in (CallState.QUEUED, CallState.RUNNING)

    @staticmethod
    def of_status(status: CallStatus) -> tuple["CallState", ...]:
        """The states a client's status stands for."""
        return tuple(state for state, shown in _STATUS.items() if shown == status)


_STATUS: dict[CallState, CallStatus] = {
    CallState.QUEUED: "Running",
    CallState.RUNNING: "Running",
    CallState.COMPLETED: "Completed",
    CallState.FAILED: "Failed",
    CallState.TIMEOUT: "Timeout",
}


@dataclass(frozen=True, slots=True)
class CallEnd:
    """How a call ended, whatever ended it (its result, an error, its deadline, a call that could
    not start, a lost instance, a stopped server): made where the end is seen, recorded once, and
    handed as it is to the requests waiting for it."""

    state: CallState
    end_time: int  # epoch ms
    response: str | None = None  # the JSON text of a completed call's return value
    error_message: str | None = None
    error_trace: str | None = None

    @classmethod
    def completed(cls, response: str, *, at: int) -> "CallEnd":
        return cls(CallState.COMPLETED, at, response=response)

    @classmethod
    def failed(cls, message: str, *, at: int, trace: str = "") -> "CallEnd":
        return cls(CallState.FAILED, at, error_message=message, error_trace=trace)

    @classmethod
    def timed_out(cls, message: str, *, at: int) -> "CallEnd":
        return cls(CallState.TIMEOUT, at, error_message=message, error_trace="")
