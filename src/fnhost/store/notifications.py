"""PostgreSQL's LISTEN/NOTIFY on one channel: what one process tells the others of a change, sent
by the transaction that makes it (at its commit, and only then), heard on a connection of each
process's own."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, cast, func, select

from fnhost import timings
from fnhost.store.dedicated import LOST, Dedicated
from fnhost.store.engine import Tx

logger = logging.getLogger(__name__)

CHANNEL = "fnhost"
# PostgreSQL's limit on a payload is 8000 bytes.
PAYLOAD_MAX_BYTES = 7900

_NOTIFY = select(func.pg_notify(CHANNEL, bindparam("payload")))


def notify(tx: Tx, *, payload: str) -> None:
    """Tell every listening process `payload` when this transaction commits."""
    tx.execute(_NOTIFY, {"payload": payload})


@dataclass(frozen=True, slots=True)
class EachTold:
    """A notification for each row a statement returns, sent by that statement itself (no
    round trip of its own): `head`, the row's id, `tail`."""

    head: str
    tail: str

    @property
    def params(self) -> dict[str, str]:
        """The values of `told_each`'s parameters."""
        return {"told_head": self.head, "told_tail": self.tail}


def told_each(id_column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column that sends an `EachTold` notification of its row, given its parameters."""
    payload = (
        bindparam("told_head", type_=String)
        + cast(id_column, String)
        + bindparam("told_tail", type_=String)
    )
    return func.pg_notify(CHANNEL, payload)


class Listener:
    """Hears the channel on a connection of its own, opened again whenever it is lost."""

    def __init__(
        self, url: str, *, heard: Callable[[str], None], connected: Callable[[], None]
    ) -> None:
        """`heard` gets each payload; `connected` is told each time listening (re)starts,
        since anything sent while it was not listening was missed."""
        self._connection = Dedicated(url, purpose="listener")
        self._heard = heard
        self._connected = connected

    async def run(self) -> None:
        """Listen until cancelled."""
        while True:
            try:
                async with self._connection.opened() as connection:
                    await connection.add_listener(CHANNEL, self._on_notification)
                    self._connected()
                    await self._connection.watch()
                logger.warning(
                    "lost the connection listening for other processes' changes: reconnecting",
                    extra={"action": "listener_lost"},
                )
            except LOST as error:
                logger.warning(
                    "cannot listen for other processes' changes (%s): retrying",
                    error,
                    extra={"action": "listener_failed"},
                )
            await asyncio.sleep(timings.CONNECTION_RETRY_SECONDS)

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._heard(payload)
