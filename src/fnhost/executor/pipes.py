"""The server's ends of one call's pipes: its request written, its stdout and stderr turned into
log lines and its result collected, all by event-loop callbacks on the raw descriptors.

Callbacks instead of a stream transport and a task per pipe: a call's pipes are short-lived and
carry little, so the per-call setup is most of their cost.
"""

import asyncio
import os
from collections.abc import Callable

from fnhost import clock
from fnhost.executor.base import LogSink

READ_CHUNK = 64 * 1024


class LogLines:
    """Splits one output stream into log lines, stamped when they arrive.

    A line longer than `max_line_bytes` is passed on cut there (the log buffer marks it cut),
    and the rest of it is dropped: output without newlines must not pile up in the server.
    """

    def __init__(self, log: LogSink, *, max_line_bytes: int) -> None:
        self._log = log
        self._max_line_bytes = max_line_bytes
        self._pending = b""
        self._dropping = False  # the rest of a line already passed on cut

    def __call__(self, chunk: bytes) -> None:
        now = clock.to_ms(clock.now())
        if not chunk:  # the end: a last line may lack its newline
            if self._pending:
                self._emit(now, self._pending)
            return
        *lines, pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            if self._dropping:
                self._dropping = False
            else:
                self._emit(now, line)
        if self._dropping:
            pending = b""
        elif len(pending) > self._max_line_bytes:
            self._emit(now, pending)
            pending, self._dropping = b"", True
        self._pending = pending

    def _emit(self, now: int, line: bytes) -> None:
        text = line[: self._max_line_bytes + 1].decode(errors="replace")
        self._log(now, text.rstrip("\r"))


class CallPipes:
    """Four pipes: request, stdout, stderr, result. `theirs` are the call's ends."""

    def __init__(
        self, request: bytes, log: LogSink, *, result_limit: int, max_line_bytes: int
    ) -> None:
        self._loop = asyncio.get_running_loop()
        request_r, self._request_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        result_r, result_w = os.pipe()
        self.theirs = (request_r, out_w, err_w, result_w)
        # The whole result, set when the call closes its result pipe (empty: it reported none).
        self.result: asyncio.Future[bytes] = self._loop.create_future()
        # Set when stdout, stderr and the result pipe are all closed by every writer.
        self.drained: asyncio.Future[None] = self._loop.create_future()
        self._result_limit = result_limit
        self._kept = bytearray()
        self._readers: list[int] = []
        self._add_reader(out_r, LogLines(log, max_line_bytes=max_line_bytes))
        self._add_reader(err_r, LogLines(log, max_line_bytes=max_line_bytes))
        self._add_reader(result_r, self._collect)
        self._unwritten = memoryview(request)
        os.set_blocking(self._request_w, False)
        self._write_request()
        if self._request_w != -1:
            # Large requests go in as the call reads them, without blocking the loop.
            self._loop.add_writer(self._request_w, self._write_request)

    def release_theirs(self) -> None:
        """Close the call's ends here: the call holds its own, and ours would keep the pipes
        from ever ending."""
        for fd in self.theirs:
            os.close(fd)

    def close(self) -> None:
        """Stop reading and writing, whatever is left unread (a grandchild may hold a pipe)."""
        for fd in self._readers:
            self._loop.remove_reader(fd)
            os.close(fd)
        self._readers.clear()
        self._close_request()

    def _add_reader(self, fd: int, consume: Callable[[bytes], None]) -> None:
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._read, fd, consume)
        self._readers.append(fd)

    def _read(self, fd: int, consume: Callable[[bytes], None]) -> None:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        consume(chunk)
        if chunk:
            return
        self._loop.remove_reader(fd)
        os.close(fd)
        self._readers.remove(fd)
        if not self._readers:
            self.drained.set_result(None)

    def _collect(self, chunk: bytes) -> None:
        """Keeps at most the limit of the result (the rest is drained, not kept)."""
        if not chunk:
            self.result.set_result(bytes(self._kept))
        elif len(self._kept) <= self._result_limit:
            self._kept += chunk

    def _write_request(self) -> None:
        try:
            written = os.write(self._request_w, self._unwritten)
        except BlockingIOError:
            return
        except BrokenPipeError:
            written = len(self._unwritten)  # the call died before reading it; its exit says how
        self._unwritten = self._unwritten[written:]
        if not self._unwritten:
            self._close_request()

    def _close_request(self) -> None:
        if self._request_w == -1:
            return
        self._loop.remove_writer(self._request_w)
        os.close(self._request_w)
        self._request_w = -1
