"""What every use case needs, built once by the CLI and passed down."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fnhost.auth.oidc import OidcVerifier
from fnhost.auth.secrets_box import SecretsBox
from fnhost.blobs import BlobStore
from fnhost.sandbox import Isolation
from fnhost.services.call_events import CallEvents
from fnhost.settings import Settings
from fnhost.store.engine import Database


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
