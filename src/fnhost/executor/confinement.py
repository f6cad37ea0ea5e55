"""The cgroups that hold a warm instance's calls (see fnhost.cgroups): each call runs in a cgroup
of its own, which its process joins through descriptors the server sends ahead of the call,
with the call before it, so that the instance's spare joins it while it waits (see
runtime/zygote.py). The instance always holds the cgroup of its next call.

A cgroup holds one call at a time, and is kept for the instance's next calls rather than made
and removed per call: that costs 5 to 10 system calls and a few hundred microseconds of the
server's CPU on cgroup v1, a tenth of a warm call. A cgroup is taken again only when the last
call left it empty (else it is removed, and anything still in it killed).

Out of memory, cgroup v2 kills the whole call itself (memory.oom.group). cgroup v1 kills only
one process, perhaps a child the handler would outlive: there the cgroup's OOM event (an
eventfd read by a loop callback, no thread or poll) kills the rest, so a call that runs out of
memory is stopped as a whole either way.
"""

import asyncio
import contextlib
import logging
import os
from dataclasses import replace

from fnhost.cgroups import Cgroups, Group
from fnhost.executor.instance import Instance
from fnhost.lifecycle import CallEnd, CallState
from fnhost.sandbox import Limits

logger = logging.getLogger(__name__)

MEMORY_PREFIX = "The call ran out of memory"


class CallCgroup:
    """One cgroup of calls, one call at a time. `join_fds` stay open: each call is sent them."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self._loop = asyncio.get_running_loop()
        self._oom: int | None = None
        self._oom_kills = 0  # as last read: a rise is the running call's doing
        self._oom_event = False
        self.join_fds: list[int] = []
        try:
            self._oom = group.watch_oom()
            if self._oom is not None:
                self._loop.add_reader(self._oom, self._out_of_memory)
            self.join_fds = group.join_fds()
        except OSError:
            self.close()
            raise

    def _out_of_memory(self) -> None:
        assert self._oom is not None
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._oom)
        self._oom_event = True
        self.group.kill()

    def explain(self, end: CallEnd, limits: Limits) -> CallEnd:
        """A failed call that ran out of memory says so, whatever process the kernel killed."""
        failed = end.state == CallState.FAILED
        if not failed and not self._oom_event:
            return end
        kills = self.group.oom_kills()
        # v1's event may come first: killed at once, the call freed the memory, and the
        # kernel killed nothing itself.
        ran_out = kills > self._oom_kills or self._oom_event
        self._oom_kills, self._oom_event = kills, False
        message = end.error_message or ""
        if not ran_out or not failed or message.startswith(MEMORY_PREFIX):
            return end
        described = limits.describe("memory", tmp_limited=False)
        return replace(end, error_message=f"The call {described}: {message}")

    def close(self) -> None:
        if self._oom is not None:
            self._loop.remove_reader(self._oom)
            os.close(self._oom)
            self._oom = None
        for fd in self.join_fds:
            os.close(fd)
        self.join_fds = []


class CallCgroups:
    """The cgroups of one warm instance's calls, made as calls run at once, kept while it lives."""

    def __init__(self, cgroups: Cgroups, limits: Limits) -> None:
        self._cgroups = cgroups
        self._limits = limits
        self._idle: list[CallCgroup] = []
        self._closed = False
        self._next: CallCgroup | None = None  # sent to the instance for its next call

    def prepare(self, instance: Instance) -> None:
        """Send a started instance the cgroup of its first call."""
        self._next = self._take_or_none()
        if self._next is not None:
            instance.send_cgroup(self._next.join_fds)

    def begin(self, instance: Instance) -> tuple[CallCgroup, list[int]]:
        """The cgroup of the call about to be handed to the instance, and the join descriptors
        of the next call's, to send with it. Raises OSError where no cgroup can be made."""
        current = self._next
        if current is None:  # making one failed after the last call: try again, now
            current = self._take()
            instance.send_cgroup(current.join_fds)
        self._next = self._take_or_none()
        return current, self._next.join_fds if self._next is not None else []

    def _take_or_none(self) -> CallCgroup | None:
        try:
            return self._take()
        except OSError as error:
            logger.warning(
                "could not make a call's cgroup: %s", error, extra={"action": "cgroup_failed"}
            )
            return None

    def _take(self) -> CallCgroup:
        """A cgroup for a call: the longest idle one, if the last call left it empty, or a
        new one."""
        while self._idle:
            kept = self._idle.pop(0)
            if kept.group.empty():
                return kept
            self._discard(kept)
        group = self._cgroups.create(
            "call", cpu=self._limits.cpu, memory_bytes=self._limits.memory_bytes
        )
        try:
            return CallCgroup(group)
        except OSError:
            self._cgroups.discard(group)
            raise

    def give_back(self, call: CallCgroup) -> None:
        """The call in it ended; its last processes may still be exiting."""
        if self._closed:
            self._discard(call)
        else:
            self._idle.append(call)

    def _discard(self, call: CallCgroup) -> None:
        call.close()
        self._cgroups.discard(call.group)

    def close(self) -> None:
        """The instance stopped: its calls' cgroups go (those still running, when they end)."""
        self._closed = True
        for call in [*self._idle, *([self._next] if self._next is not None else [])]:
            self._discard(call)
        self._idle, self._next = [], None
