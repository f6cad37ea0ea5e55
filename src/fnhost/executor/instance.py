"""A warm instance as the server sees it: a zygote process of one function version, and the
calls it forks. The zygote protocol is described in runtime/zygote.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from fnhost import clock

logger = logging.getLogger(__name__)

MESSAGE_BYTES = 64 * 1024


class InstanceFailed(Exception):
    """The instance could not start (e.g. the handler fails to import) or died."""

    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.trace = trace


class Instance:
    """One zygote: started once, then forks a child per call until closed or idle."""

    def __init__(
        self,
        command: Sequence[str],
        env: dict[str, str],
        cwd: str,
        *,
        pass_fds: Sequence[int] = (),
        join_fds: Sequence[int] = (),
    ) -> None:
        """`pass_fds` are inherited by the process (the sandbox's own), `join_fds` too and
        named to the zygote: its cgroup's (see runtime/zygote.py)."""
        self._command = list(command)
        self._pass_fds = (*pass_fds, *join_fds)
        self._join_args = [str(fd) for fd in join_fds]
        self._env = env
        self._cwd = cwd
        self._process: asyncio.subprocess.Process | None = None
        self._socket: socket.socket | None = None
        self._calls: dict[int, asyncio.Future[int]] = {}  # call id -> its exit code
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self.last_used = clock.now()
        self.running = 0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, *, code_dir: str, function_path: str, tmp: str) -> None:
        """Start the zygote and wait until it has imported the handler. Each call gets a
        temporary directory of its own in `tmp`."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._command,
                str(theirs.fileno()),
                *self._join_args,
                pass_fds=(theirs.fileno(), *self._pass_fds),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                env=self._env,
                cwd=self._cwd,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._socket = ours
        loop.add_reader(ours.fileno(), self._receive)
        self._send({"op": "load", "code_dir": code_dir, "function_path": function_path, "tmp": tmp})
        ready = await self._ready
        if ready["op"] != "ready":
            await self.close()
            raise InstanceFailed(
                ready.get("message", "the instance failed"), ready.get("trace", "")
            )

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        assert self._socket is not None
        socket.send_fds(self._socket, [json.dumps(message).encode()], list(fds))

    def _receive(self) -> None:
        assert self._socket is not None
        try:
            data = self._socket.recv(MESSAGE_BYTES)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            self._lost()
            return
        message = json.loads(data)
        op = message["op"]
        if op in ("ready", "failed") and self._ready and not self._ready.done():
            self._ready.set_result(message)
            return
        exited = self._calls.get(message["id"])
        if op == "exited" and exited is not None and not exited.done():
            exited.set_result(message["returncode"])

    def _lost(self) -> None:
        """The zygote is gone: every call it was running is gone with it."""
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        lost = InstanceFailed(
            "The function's instance stopped during the call (a call of this function may "
            "have killed it); the next call starts a new one"
        )
        if self._ready and not self._ready.done():
            self._ready.set_result({"op": "failed", "message": "The instance exited on start"})
        for exited in self._calls.values():
            if not exited.done():
                exited.set_exception(lost)

    def fork(self, call_id: int, fds: Sequence[int]) -> asyncio.Future[int]:
        """Start one call with its four descriptors; returns a future of its exit code."""
        if self._socket is None:
            raise InstanceFailed("The function's instance is not running")
        exited = self._calls[call_id] = asyncio.get_running_loop().create_future()
        self.running += 1
        self.last_used = clock.now()
        self._send({"op": "call", "id": call_id}, fds)
        return exited

    def send_cgroup(self, join_fds: Sequence[int]) -> None:
        """The cgroup of the next call, for the zygote's spare to join ahead of it."""
        if self._socket is None:
            raise InstanceFailed("The function's instance is not running")
        self._send({"op": "cgroup"}, join_fds)

    def kill(self, call_id: int) -> None:
        """Kill a call's whole process group."""
        if self._socket is not None:
            self._send({"op": "kill", "id": call_id})

    def done(self, call_id: int) -> None:
        if self._calls.pop(call_id, None) is not None:
            self.running -= 1
        self.last_used = clock.now()

    async def close(self) -> None:
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            await self._process.wait()
