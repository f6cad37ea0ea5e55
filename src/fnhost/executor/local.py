"""The local executor: each call is a fresh interpreter of the function's environment, in the
sandbox and its own process group, killed as a group at the deadline."""

import asyncio
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path

from fnhost import clock
from fnhost.executor.base import LogSink
from fnhost.sandbox import Launch, Limits, Sandbox
from fnhost.services.dispatch import CallJob, Outcome
from fnhost.settings import Settings

# How long the pipes may stay open after the process ended (a grandchild may hold them).
DRAIN_SECONDS = 2.0
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


def call_environment(job: CallJob, home: str) -> dict[str, str]:
    """The process environment of a call: the function's envVars over a minimal base.

    Nothing of the server's own environment (tokens, database URLs) is passed on.
    """
    base = {
        "PATH": f"{Path(job.environment).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return {**base, **job.env_vars}


async def _pump_lines(stream: asyncio.StreamReader, log: LogSink) -> None:
    pending = b""
    while True:
        chunk = await stream.read(READ_CHUNK)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            log(clock.to_ms(clock.now()), line.decode(errors="replace").rstrip("\r"))
    if pending:
        log(clock.to_ms(clock.now()), pending.decode(errors="replace").rstrip("\r"))


async def _read_all(fd: int, limit: int) -> bytes:
    """Read a pipe to its end, keeping at most `limit` bytes (the rest is drained, not kept)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    kept = bytearray()
    try:
        while chunk := await reader.read(READ_CHUNK):
            if len(kept) <= limit:
                kept += chunk
    finally:
        transport.close()
    return bytes(kept)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class LocalExecutor:
    """Runs calls as local child processes."""

    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._work = settings.layout.work
        self._work.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def run(self, job: CallJob, log: LogSink) -> Outcome:
        limits = Limits.for_function(self._settings, memory_gb=job.memory_gb)
        with (
            tempfile.TemporaryDirectory(dir=self._work, prefix=f"call-{job.call_id}-") as tmp,
            self._sandbox.launch(
                python=job.environment, code_dir=job.code_dir, scratch=Path(tmp), limits=limits
            ) as launch,
        ):
            return await self._run(job, log, launch, limits)

    async def _run(self, job: CallJob, log: LogSink, launch: Launch, limits: Limits) -> Outcome:
        read_fd, write_fd = os.pipe()
        request = {
            "code_dir": launch.code_dir,
            "function_path": job.function_path,
            "data": job.data,
            "secrets": job.secrets,
            "call_info": job.call_info,
            "project": job.project,
            "base_url": job.base_url,
            "token": job.token,
            "result_fd": write_fd,
            "response_max_bytes": self._settings.response_max_bytes,
        }
        try:
            process = await asyncio.create_subprocess_exec(
                *launch.prefix,
                "-I",
                "-u",
                launch.runtime_main,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
                env=call_environment(job, launch.home),
                cwd=launch.cwd,
            )
        except OSError as error:
            os.close(read_fd)
            os.close(write_fd)
            return Outcome("failed", error_message=f"Could not start the function: {error}")
        os.close(write_fd)
        assert process.stdin and process.stdout and process.stderr
        readers = [
            asyncio.create_task(_pump_lines(process.stdout, log)),
            asyncio.create_task(_pump_lines(process.stderr, log)),
        ]
        result_reader = asyncio.create_task(
            _read_all(read_fd, self._settings.response_max_bytes + READ_CHUNK)
        )
        try:
            process.stdin.write(json.dumps(request).encode())
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), job.timeout_seconds)
                timed_out = False
            except TimeoutError:
                timed_out = True
        finally:
            # Whatever happened, nothing the call started outlives it.
            _kill_group(process.pid)
            await process.wait()
            _done, stuck = await asyncio.wait([*readers, result_reader], timeout=DRAIN_SECONDS)
            for task in stuck:
                task.cancel()
        if timed_out:
            return Outcome(
                "timeout",
                error_message=f"The call exceeded the time limit of {job.timeout_seconds} "
                "seconds (FNHOST_CALL_TIMEOUT_SECONDS) and was stopped",
                error_trace="",
            )
        raw = result_reader.result() if result_reader in _done else b""
        return self._outcome(raw, launch.returncode(process.returncode or 0), limits)

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
        return None
