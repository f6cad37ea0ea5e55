"""The contract between the services and whatever runs calls (the dispatcher and its executors):
what runs one call, and the dispatcher's slots as the request that creates a call sees them.

A leaf: services and executors import it; it imports neither.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class FunctionSpec:
    """What runs every call of one deployed function: the same for all of them.

    `code_dir` and `environment` are where this machine's builder put the code and the
    environment; a machine without them (a Ray node) rebuilds both from `code_digest` (the
    code zip in the blob store: the function's version), `runtime` and the index URLs.
    """

    function_id: int
    code_digest: str
    function_path: str
    runtime: str
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    code_dir: Path
    environment: str  # the environment's interpreter
    env_vars: dict[str, str]
    cpu: float
    memory_gb: float


@dataclass(frozen=True)
class CallJob:
    """Everything an executor needs to run one call, resolved before it starts."""

    call_id: int
    project: str
    accepted_time: int  # epoch ms: when the call was created (its startTime on the wire)
    function: FunctionSpec
    secrets: dict[str, str]
    data: Any
    call_info: dict[str, Any]
    timeout_seconds: int
    base_url: str
    token: str  # the call's `client` acts with it: its session's identity, while it runs


class CallStarter(Protocol):
    """This process's dispatcher, taking a call straight from the request that creates it.

    The request reserves a slot first, so the call can be stored as running (claimed by
    `claimant`) in the transaction that creates it, then starts it or gives the slot back.
    """

    @property
    def claimant(self) -> str: ...

    def reserve(self) -> bool:
        """Take a free slot, if there is one and no queued call waits for it."""
        ...

    def release(self) -> None:
        """Give back a reserved slot that was not used."""
        ...

    def start(self, job: CallJob) -> None:
        """Run the call in the reserved slot."""
        ...
