"""PostgreSQL connections of a process's own, outside the engine's pool and held for a long
time (a LISTEN, an advisory lock): opened with asyncpg, watched, and known to be gone soon after
they are."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url

from fnhost import timings

# What makes a connection unusable, as the process sees it.
LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)

# The server notices a client that vanished without closing (a cut network, a machine that
# stopped) after about idle + interval x count seconds, then ends its session (releasing
# what it held). Unix-socket connections need none of it.
_KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}
CONNECT_TIMEOUT_SECONDS = 10.0


def dsn_of(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL (`postgresql+asyncpg://...`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Dedicated:
    """One connection, open while in `opened()`, that says when it is gone."""

    def __init__(self, url: str, *, purpose: str) -> None:
        self._dsn = dsn_of(url)
        self._purpose = purpose
        self.connection: asyncpg.Connection | None = None
        self._gone = asyncio.Event()

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[asyncpg.Connection]:
        """The connection (LOST when it cannot be opened); closed on the way out."""
        self._gone.clear()
        connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": f"fnhost {self._purpose}", **_KEEPALIVES},
        )
        connection.add_termination_listener(lambda _connection: self._gone.set())
        self.connection = connection
        try:
            yield connection
        finally:
            self.connection = None
            connection.terminate()  # at once: a graceful close may wait on a dead network

    async def watch(self) -> None:
        """Return once the connection is gone: closed under it, or silent to a check."""
        connection = self.connection
        assert connection is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), timings.CONNECTION_CHECK_SECONDS)
                return
            try:
                check = connection.fetchval("SELECT 1")
                await asyncio.wait_for(check, timings.CONNECTION_CHECK_TIMEOUT_SECONDS)
            except LOST:
                return
