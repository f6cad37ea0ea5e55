"""What every use case needs, built once by the CLI and passed down."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from fnhost.auth.oidc import OidcVerifier
from fnhost.auth.secrets_box import SecretsBox
from fnhost.blobs import BlobStore
from fnhost.sandbox import Isolation
from fnhost.services.call_events import CallEvents
from fnhost.settings import Settings
from fnhost.store.engine import Database

if TYPE_CHECKING:
    from fnhost.services.dispatch import CallJob


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

    def start(self, job: "CallJob") -> None:
        """Run the call in the reserved slot."""
        ...


def _nothing() -> None:
    return None


def _ignore(_function_id: int) -> None:
    return None


@dataclass
class Platform:
    """Settings, the database, the blob store and the signals to background workers."""

    settings: Settings
    db: Database
    blobs: BlobStore
    secrets_box: SecretsBox
    # Runtime name (e.g. "py311") -> "Python 3.11.7", for the runtimes this server really has.
    runtimes: Mapping[str, str]
    # Verifies JWTs of the configured OIDC issuers; None: only fnhost-issued tokens are valid.
    oidc: OidcVerifier | None = None
    # Wakes the dispatcher (a call was queued), the builder (a function was created) and the
    # scheduler (a schedule was created).
    wake_dispatcher: Callable[[], None] = field(default=_nothing)
    wake_builder: Callable[[], None] = field(default=_nothing)
    wake_scheduler: Callable[[], None] = field(default=_nothing)
    # Told when a function becomes Ready, so its first call finds a warm instance.
    function_ready: Callable[[int], None] = field(default=_ignore)
    # How function code is isolated, as detected at start; None where no function runs.
    isolation: Isolation | None = None
    # Ends of calls recorded by this process, for requests waiting on them.
    call_events: CallEvents = field(default_factory=CallEvents)
    # The dispatcher of this process, while it runs; None: calls are queued for any dispatcher.
    call_starter: CallStarter | None = None
