"""The local executor: each call is a fork of its function's warm instance (a zygote inside
the sandbox), in a process group of its own, killed as a group at the deadline."""

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Awaitable
from typing import Any

from fnhost import clock
from fnhost.executor.base import LogSink
from fnhost.executor.instance import InstanceFailed
from fnhost.executor.pool import InstancePool, Warm
from fnhost.sandbox import Limits, Sandbox
from fnhost.services.dispatch import CallJob, FunctionSpec, Outcome
from fnhost.settings import Settings

# How long the pipes may stay open after the call ended (a grandchild may hold them).
DRAIN_SECONDS = 2.0
# How long a killed call may take to be reported dead before its instance is stopped.
KILL_GRACE_SECONDS = 5.0
READ_CHUNK = 64 * 1024


def describe_death(returncode: int) -> str:
    """Why a call's process ended without reporting a result."""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = " (out of memory, or killed from outside)" if number == signal.SIGKILL else ""
        return f"The function's process was killed by {name}{hint} before it returned"
    return (
        f"The function's process exited with code {returncode} before it returned "
        "(os._exit or a crash of the interpreter)"
    )


async def _reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return reader, transport


async def _pump_lines(fd: int, log: LogSink) -> None:
    reader, transport = await _reader(fd)
    pending = b""
    try:
        while chunk := await reader.read(READ_CHUNK):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                log(clock.to_ms(clock.now()), line.decode(errors="replace").rstrip("\r"))
        if pending:
            log(clock.to_ms(clock.now()), pending.decode(errors="replace").rstrip("\r"))
    finally:
        transport.close()


async def _read_all(fd: int, limit: int) -> bytes:
    """Read a pipe to its end, keeping at most `limit` bytes (the rest is drained, not kept)."""
    reader, transport = await _reader(fd)
    kept = bytearray()
    try:
        while chunk := await reader.read(READ_CHUNK):
            if len(kept) <= limit:
                kept += chunk
    finally:
        transport.close()
    return bytes(kept)


async def _write_all(fd: int, data: bytes) -> None:
    """Write the request into its pipe and close it; large requests don't block the loop."""
    try:
        os.set_blocking(fd, False)
        with contextlib.suppress(BlockingIOError):
            data = data[os.write(fd, data) :]
        if data:
            os.set_blocking(fd, True)
            await asyncio.to_thread(_write_blocking, fd, data)
    except BrokenPipeError:
        pass  # the call died before reading its request; its exit says how
    finally:
        os.close(fd)


def _write_blocking(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def _settle(tasks: list["asyncio.Task[Any]"]) -> set["asyncio.Task[Any]"]:
    """Let the call's pipes run dry (briefly: a grandchild may hold one open), then stop."""
    done, stuck = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
    for task in stuck:
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    return done


class LocalExecutor:
    """Runs calls on warm instances on this machine."""

    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._pool = InstancePool(settings, sandbox)
        self._reaper: asyncio.Task[None] | None = None

    def prewarm(self, spec: FunctionSpec) -> None:
        """Start a function's instance now, so its first call is warm."""
        self._ensure_reaper()
        self._pool.prewarm(spec)

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._pool.reap())

    async def run(self, job: CallJob, log: LogSink) -> Outcome:
        self._ensure_reaper()
        try:
            warm = await self._pool.get(job.function)
        except InstanceFailed as failure:
            return Outcome(
                "failed",
                error_message=f"The function could not start: {failure.message}",
                error_trace=failure.trace,
            )
        try:
            return await self._run(job, log, warm)
        finally:
            warm.instance.done(job.call_id)

    def _request(self, job: CallJob) -> bytes:
        request = {
            "data": job.data,
            "secrets": job.secrets,
            "call_info": job.call_info,
            "project": job.project,
            "base_url": job.base_url,
            "token": job.token,
            "response_max_bytes": self._settings.response_max_bytes,
        }
        return json.dumps(request).encode()

    async def _run(self, job: CallJob, log: LogSink, warm: Warm) -> Outcome:
        request_r, request_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        result_r, result_w = os.pipe()
        theirs = (request_r, out_w, err_w, result_w)
        result = asyncio.create_task(
            _read_all(result_r, self._settings.response_max_bytes + READ_CHUNK)
        )
        tasks = [
            asyncio.create_task(_pump_lines(out_r, log)),
            asyncio.create_task(_pump_lines(err_r, log)),
            result,
        ]
        try:
            exited = await warm.instance.fork(job.call_id, theirs)
        except InstanceFailed as failure:
            os.close(request_w)
            return Outcome("failed", error_message=failure.message, error_trace="")
        finally:
            # The call holds its own copies now; ours would keep its pipes from ending.
            for fd in theirs:
                os.close(fd)
            if not warm.instance.alive:
                await _settle(tasks)
        tasks.append(asyncio.create_task(_write_all(request_w, self._request(job))))
        returncode: int | None = None
        lost = "The function's instance stopped during the call"  # unless it says more
        timed_out = False
        try:
            returncode = await asyncio.wait_for(asyncio.shield(exited), job.timeout_seconds)
        except TimeoutError:
            timed_out = True
            await self._kill(warm, job.call_id, exited)
        except InstanceFailed as failure:
            lost = failure.message
        finally:
            done = await _settle(tasks)
        if timed_out:
            return Outcome(
                "timeout",
                error_message=f"The call exceeded the time limit of {job.timeout_seconds} "
                "seconds (FNHOST_CALL_TIMEOUT_SECONDS) and was stopped",
                error_trace="",
            )
        raw = result.result() if result in done else b""
        if returncode is None and not raw:
            return Outcome("failed", error_message=lost, error_trace="")
        return self._outcome(raw, returncode or 0, warm.limits)

    async def _kill(self, warm: Warm, call_id: int, exited: Awaitable[int]) -> None:
        """Kill a call; if its instance does not confirm in time, stop the whole instance."""
        warm.instance.kill(call_id)
        try:
            await asyncio.wait_for(exited, KILL_GRACE_SECONDS)
        except (TimeoutError, InstanceFailed):
            await warm.instance.close()

    def _outcome(self, raw: bytes, returncode: int, limits: Limits) -> Outcome:
        if not raw:
            return Outcome("failed", error_message=describe_death(returncode), error_trace="")
        try:
            result = json.loads(raw)
        except ValueError:
            return Outcome(
                "failed",
                error_message="The function's response could not be read: it is larger than "
                f"{self._settings.response_max_mb} MB (FNHOST_RESPONSE_MAX_MB) or corrupt",
                error_trace="",
            )
        if result.get("state") == "completed":
            return Outcome("completed", response=result["response"])
        message = result.get("message", "failed")
        if limit := result.get("limit"):
            tmp_limited = self._sandbox.isolation.kind == "bwrap"
            message = f"The call {limits.describe(limit, tmp_limited=tmp_limited)}: {message}"
        return Outcome("failed", error_message=message, error_trace=result.get("trace", ""))

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self._pool.close()
