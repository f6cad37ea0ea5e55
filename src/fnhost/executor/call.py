"""One call on a warm instance: its request written, its output turned into log lines, its
process group killed at the deadline, and how it ended described. The same for every executor:
the local one, and the instance actors of the Ray one."""

import asyncio
import json
import signal
from collections.abc import Awaitable

from fnhost import clock, timings
from fnhost.executor.base import LogSink
from fnhost.executor.confinement import CallCgroup
from fnhost.executor.instance import InstanceFailed
from fnhost.executor.pipes import READ_CHUNK, CallPipes
from fnhost.executor.pool import Warm
from fnhost.lifecycle import CallEnd
from fnhost.sandbox import Limits
from fnhost.services.jobs import CallJob
from fnhost.settings import Settings


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


def could_not_start(failure: InstanceFailed) -> CallEnd:
    """How a call ends whose function's instance could not start."""
    return CallEnd.failed(
        f"The function could not start: {failure.message}",
        trace=failure.trace,
        at=clock.now_ms(),
    )


async def _ended(exited: asyncio.Future[int], result: asyncio.Future[bytes]) -> None:
    """Until the call exited, or reported its whole result (its exit changes nothing then).

    Neither future is cancelled when this is: a timed-out call is still killed and awaited.
    """
    await asyncio.wait((exited, result), return_when=asyncio.FIRST_COMPLETED)
    if not exited.done() and not result.result():
        await asyncio.wait((exited,))  # it died without a result: its exit says how


class CallRunner:
    """Runs calls on warm instances and describes how each ended."""

    def __init__(self, settings: Settings, *, tmp_limited: bool) -> None:
        self._settings = settings
        # Whether calls have a size-limited /tmp of their own (the bubblewrap sandbox).
        self._tmp_limited = tmp_limited

    async def run(self, job: CallJob, log: LogSink, warm: Warm) -> CallEnd:
        """Run `job` on `warm` to its end. Never raises for what the call did."""
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
            "response_max_bytes": self._settings.calls.response_max_bytes,
        }
        return json.dumps(request).encode()

    async def _run(self, job: CallJob, log: LogSink, warm: Warm) -> CallEnd:
        cgroup: CallCgroup | None = None
        next_fds: list[int] = []
        if warm.call_cgroups is not None:
            try:
                cgroup, next_fds = warm.call_cgroups.begin(warm.instance)
            except OSError as error:
                return CallEnd.failed(
                    f"The call's cgroup could not be made: {error}", at=clock.now_ms()
                )
            except InstanceFailed as failure:
                return CallEnd.failed(failure.message, at=clock.now_ms())
        pipes = CallPipes(
            self._request(job),
            log,
            result_limit=self._settings.calls.response_max_bytes + READ_CHUNK,
            # Enough for the longest line kept (FNHOST_LOG_LINE_MAX_CHARS) in any encoding.
            max_line_bytes=4 * self._settings.calls.log_line_max_chars,
        )
        try:
            try:
                exited = warm.instance.fork(job.call_id, [*pipes.theirs, *next_fds])
            except InstanceFailed as failure:
                return CallEnd.failed(failure.message, at=clock.now_ms())
            finally:
                pipes.release_theirs()
            end = await self._follow(job, warm, exited, pipes)
            return cgroup.explain(end, warm.limits) if cgroup is not None else end
        finally:
            pipes.close()
            if cgroup is not None and warm.call_cgroups is not None:
                warm.call_cgroups.give_back(cgroup)

    async def _follow(
        self, job: CallJob, warm: Warm, exited: asyncio.Future[int], pipes: CallPipes
    ) -> CallEnd:
        """Wait for the call's end (killing it at its deadline) and describe it."""
        try:
            async with asyncio.timeout(job.timeout_seconds):
                await _ended(exited, pipes.result)
        except TimeoutError:
            await self._kill(warm, job.call_id, exited)
            return CallEnd.timed_out(
                f"The call exceeded the time limit of {job.timeout_seconds} "
                "seconds (FNHOST_CALL_TIMEOUT_SECONDS) and was stopped",
                at=clock.now_ms(),
            )
        finally:
            # Let the pipes run dry, briefly: a grandchild may hold one open.
            await asyncio.wait((pipes.drained,), timeout=timings.CALL_DRAIN_SECONDS)
        raw = pipes.result.result() if pipes.result.done() else b""
        returncode: int | None = None
        lost = "The function's instance stopped during the call"  # unless it says more
        if exited.done():
            if isinstance(failure := exited.exception(), InstanceFailed):
                lost = failure.message
            else:
                returncode = exited.result()
        if returncode is None and not raw:
            return CallEnd.failed(lost, at=clock.now_ms())
        return self._outcome(raw, returncode or 0, warm.limits)

    async def _kill(self, warm: Warm, call_id: int, exited: Awaitable[int]) -> None:
        """Kill a call; if its instance does not confirm in time, stop the whole instance."""
        warm.instance.kill(call_id)
        try:
            await asyncio.wait_for(exited, timings.CALL_KILL_GRACE_SECONDS)
        except (TimeoutError, InstanceFailed):
            await warm.instance.close()

    def _outcome(self, raw: bytes, returncode: int, limits: Limits) -> CallEnd:
        now = clock.now_ms()
        if not raw:
            return CallEnd.failed(describe_death(returncode), at=now)
        try:
            result = json.loads(raw)
        except ValueError:
            return CallEnd.failed(
                "The function's response could not be read: it is larger than "
                f"{self._settings.calls.response_max_mb} MB (FNHOST_RESPONSE_MAX_MB) or corrupt",
                at=now,
            )
        if result.get("state") == "completed":
            return CallEnd.completed(result["response"], at=now)
        message = result.get("message", "failed")
        if limit := result.get("limit"):
            message = f"The call {limits.describe(limit, tmp_limited=self._tmp_limited)}: {message}"
        return CallEnd.failed(message, trace=result.get("trace", ""), at=now)
