"""A call's log lines on their way to the database: capped, batched, flushed while it runs."""

import asyncio
import contextlib
import logging

from fnhost import timings
from fnhost.executor.base import Flush

logger = logging.getLogger(__name__)


class LogCap:
    """The limits of one call's logs: long lines are cut, and past a byte cap a marker says so
    and nothing more is kept. Applying it twice to the same lines changes nothing more."""

    def __init__(self, *, max_bytes: int, max_line_chars: int) -> None:
        self._max_bytes = max_bytes
        self._max_line_chars = max_line_chars
        self._kept_bytes = 0
        self._truncated = False

    def keep(self, line: str) -> str | None:
        """The line as kept (cut, or the marker in its place), or None once past the cap."""
        if self._truncated:
            return None
        if len(line) > self._max_line_chars:
            line = line[: self._max_line_chars] + " [line truncated]"
        size = len(line.encode(errors="replace")) + 1
        if self._kept_bytes + size > self._max_bytes:
            self._truncated = True
            line = (
                f"[fnhost] log output truncated: this call reached the limit of "
                f"{self._max_bytes} bytes of logs (FNHOST_CALL_LOG_MAX_BYTES)"
            )
        self._kept_bytes += size
        return line


class CallLogBuffer:
    """Collects lines, writes them in batches, and stops at a byte cap with a visible marker."""

    def __init__(self, flush: Flush, *, max_bytes: int, max_line_chars: int) -> None:
        self._flush = flush
        self._cap = LogCap(max_bytes=max_bytes, max_line_chars=max_line_chars)
        self._pending: list[tuple[int, str]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def add(self, timestamp: int, line: str) -> None:
        kept = self._cap.keep(line)
        if kept is None:
            return
        self._pending.append((timestamp, kept))
        self._wakeup.set()
        if self._task is None:  # started by the first line: most calls print nothing
            self._task = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        """Write whatever is left and stop. A write in progress is finished, not cancelled."""
        self._stop.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task
        await self._write()

    async def _flush_periodically(self) -> None:
        while not self._stop.is_set():
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._write()
            # Let lines gather into one batch for a moment, unless the call ends meanwhile.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timings.CALL_LOG_FLUSH_SECONDS)

    async def _write(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await self._flush(batch)
        except Exception:
            logger.exception("could not store call logs", extra={"action": "logs_lost"})
