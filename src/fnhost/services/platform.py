"""What every use case needs, built once at start and never changed."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from fnhost.auth.oidc import OidcVerifier
from fnhost.auth.secrets_box import SecretsBox
from fnhost.blobs import Blobs
from fnhost.sandbox import Isolation
from fnhost.services.call_events import CallEvents
from fnhost.services.notifier import Notifier
from fnhost.settings import Settings
from fnhost.store.engine import Database


@dataclass(frozen=True)
class Platform:
    """Settings, the database, the blob store, keys, and the wake-ups of this process's parts."""

    settings: Settings
    db: Database
    blobs: Blobs
    secrets_box: SecretsBox
    # Runtime name (e.g. "py311") -> "Python 3.11.7", for the runtimes this server really has.
    runtimes: Mapping[str, str]
    # Verifies JWTs of the configured OIDC issuers; None: only fnhost-issued tokens are valid.
    oidc: OidcVerifier | None = None
    # How function code is isolated, as detected at start; None where no function runs.
    isolation: Isolation | None = None
    notifier: Notifier = field(default_factory=Notifier)
    # Ends of calls recorded by this process, for requests waiting on them.
    call_events: CallEvents = field(default_factory=CallEvents)
    # Projects this process has seen exist (projects are never deleted): a write in one of
    # them need not name it again.
    named_projects: set[str] = field(default_factory=set)
