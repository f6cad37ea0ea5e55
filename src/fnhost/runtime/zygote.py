"""A warm function instance: imports the handler once, then runs each call in a fork of itself.

Started as `python -I -u zygote.py CONTROL_FD [JOIN_FD...]` in the function's environment
(inside the sandbox). CONTROL_FD is a SOCK_SEQPACKET socket to the server. Each JOIN_FD is a
descriptor of the `cgroup.procs` file of the instance's cgroup (one per cgroup hierarchy, see
fnhost.cgroups): the zygote joins its cgroup by writing "0" to each before it loads any user
code. Messages are small JSON objects, one per packet:

  server -> zygote  {"op": "load", "code_dir", "function_path", "tmp"}
                    {"op": "call", "id"} with four descriptors attached (SCM_RIGHTS): the
                        request pipe, stdout, stderr and the result pipe of the call; then,
                        where calls are held in cgroups, the join descriptors of the cgroup
                        of the call after it
                    {"op": "cgroup"} with the join descriptors of the next call's cgroup
                    {"op": "kill", "id"}
  zygote -> server  {"op": "ready", "version"} or {"op": "failed", "message", "trace"}
                    {"op": "exited", "id", "returncode"}

The zygote keeps one child forked ahead, the spare, waiting on a socket of its own for its
call: a call is handed to the spare (its four descriptors passed on) and does not wait for
fork(). The next spare is forked when a call ends, not while one runs (which it would slow
down on a small machine); a call that finds no spare forks its own. Where calls are held in
cgroups, the spare joins the next call's cgroup as soon as it has one (moving a process into
a cgroup may wait for the kernel's RCU, milliseconds under load: not on a call's time). A
spare runs exactly one call, like a fresh interpreter that imported the handler: it shares
nothing with other calls (fork copies memory), has its own process group and temporary
directory (in "tmp"), reads its request from its own pipe, and reports its outcome on the
result pipe. Standard library only, and as little of it as will do: each module imported here
costs every call (random, for one, reseeds in each fork).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub)
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_SET_CHILD_SUBREAPER = 36
SPARE_NAME = b"fnhost-spare"
MESSAGE_BYTES = 64 * 1024
CALL_FDS = 4  # request, stdout, stderr, result
MAX_JOIN_FDS = 2  # cgroup v1: the cpu and the memory hierarchies
RESULT_FD = 3


def _load_runtime() -> ModuleType:
    """runtime/handler.py, loaded under a private name so user modules cannot shadow it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handler.py")
    spec = importlib.util.spec_from_file_location("_fnhost_runtime", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Found once here rather than in each call's process.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


class Zygote:
    def __init__(self, control: socket.socket, runtime: ModuleType) -> None:
        self.control = control
        self.runtime = runtime
        self.handle: Any = None
        # Every process forked and not yet reaped: pid -> its call's id (None while it is the
        # spare), its temporary directory.
        self.children: dict[int, tuple[int | None, str]] = {}
        self.spare: tuple[int, socket.socket] | None = None  # its pid, the socket to hand it on
        # Join descriptors of the next call's cgroup: not given to a spare yet, and given to
        # the current spare (kept until it has its call: should it die, the next one joins).
        self.next_cgroup: list[int] = []
        self.spare_cgroup: list[int] = []
        self.forked = 0  # numbers the temporary directories
        self.tmp = ""  # where calls' temporary directories go, as loading says
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_w, False)
        os.set_blocking(self.wakeup_r, False)
        # epoll itself, not `selectors`: what the zygote runs per call is kept short, since
        # each page it touches after a fork is copied, on the time of every call.
        self.poller = select.epoll()
        self.name = ctypes.create_string_buffer(16)  # the process name, restored in calls
        _prctl(PR_GET_NAME, self.name, 0, 0, 0)

    def send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def load(self, message: dict[str, Any]) -> bool:
        self.tmp = message["tmp"]
        try:
            self.handle = self.runtime.load(message["code_dir"], message["function_path"])
        except BaseException as error:  # the instance reports every failure to import
            self.send(
                {
                    "op": "failed",
                    "message": self.runtime.describe(error),
                    "trace": self.runtime.user_trace(error),
                }
            )
            return False
        self.send({"op": "ready", "version": sys.version.split()[0]})
        return True

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.poller.register(self.control.fileno(), select.EPOLLIN)
        self.poller.register(self.wakeup_r, select.EPOLLIN)
        self.fork_spare_if_possible()
        while True:
            for fd, _ in self.poller.poll():
                if fd == self.wakeup_r:
                    self.reap()
                elif not self.receive():
                    self.shutdown()
                    return

    def receive(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(
                self.control, MESSAGE_BYTES, CALL_FDS + MAX_JOIN_FDS
            )
        except ConnectionError:
            return False
        if not data:
            return False
        message = json.loads(data)
        if message["op"] == "call":
            self.start(message["id"], fds[:CALL_FDS])
            self.give_cgroup(fds[CALL_FDS:])
        elif message["op"] == "cgroup":
            self.give_cgroup(fds)
        elif message["op"] == "kill":
            for pid, (call_id, _scratch) in self.children.items():
                if call_id == message["id"]:
                    _kill_group(pid)
        return True

    def start(self, call_id: int, fds: list[int]) -> None:
        """Hand the call to the spare."""
        # Without a spare, the call forks its own, and fails as fork() does where no process
        # can be forked.
        if self.spare is None:
            self.spare = self.fork_spare(inherited=fds)
            self.join_spare()
        pid, channel = self.spare
        self.spare = None
        scratch = self.children[pid][1]
        os.mkdir(scratch, 0o700)
        with contextlib.suppress(OSError):  # the spare died: its death is reported as the call's
            socket.send_fds(channel, [b"call"], fds)
        channel.close()
        for fd in (*fds, *self.spare_cgroup):
            os.close(fd)
        self.spare_cgroup = []
        self.children[pid] = (call_id, scratch)

    def give_cgroup(self, fds: Sequence[int]) -> None:
        """The next call's cgroup, for the spare to join now (or the next spare forked)."""
        if fds:
            for fd in self.next_cgroup:
                os.close(fd)
            self.next_cgroup = list(fds)
            self.join_spare()

    def join_spare(self) -> None:
        if self.spare is not None and self.next_cgroup and not self.spare_cgroup:
            self.spare_cgroup, self.next_cgroup = self.next_cgroup, []
            with contextlib.suppress(OSError):  # a dead spare: the next one joins
                socket.send_fds(self.spare[1], [b"join"], self.spare_cgroup)

    def fork_spare_if_possible(self) -> None:
        # Where no process can be forked now (a call at the process limit), the next call
        # forks its own.
        with contextlib.suppress(OSError):
            self.spare = self.fork_spare()
            self.join_spare()

    def fork_spare(self, inherited: Sequence[int] = ()) -> tuple[int, socket.socket]:
        """A new spare: its pid, and the socket its call is handed to it on."""
        self.forked += 1
        scratch = os.path.join(self.tmp, f"call-{self.forked}")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:
            ours.close()
            self.run_spare(theirs, scratch, inherited)
        theirs.close()
        self.children[pid] = (None, scratch)
        return pid, ours

    def run_spare(self, channel: socket.socket, scratch: str, inherited: Sequence[int]) -> None:
        """A process forked ahead of its call, so that a call does not wait for fork(). All it
        does before its call is given to it is the same for every call."""
        try:
            for fd in (*inherited, self.poller.fileno(), self.wakeup_r, self.wakeup_w):
                os.close(fd)
            self.control.close()
            # A temporary directory of the call's own (made when it is given the call),
            # removed when it ends.
            os.environ["TMPDIR"] = os.environ["HOME"] = scratch
            tempfile: Any = sys.modules.get("tempfile")
            if tempfile is not None:
                tempfile.tempdir = None  # the handler's import may have found the instance's
            os.setsid()  # its own process group, killed as a whole
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _prctl(PR_SET_NAME, SPARE_NAME, 0, 0, 0)  # told apart from calls (ps, tests)
            signal.set_wakeup_fd(-1)
            # signal's C function itself: the Python wrapper converts the handler it replaces
            # (the zygote's) to an enum, which fails at a cost of ~0.15 ms of CPU per spare.
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            refused: OSError | None = None
            while True:  # the cgroup to join (where calls have them), then the call
                data, fds, _flags, _addr = socket.recv_fds(channel, MESSAGE_BYTES, CALL_FDS)
                if not data:
                    os._exit(0)  # the instance is stopping
                if data != b"join":
                    break
                try:
                    join_cgroup(fds)
                except OSError as error:
                    refused = error
            channel.close()
            if refused is not None:  # a call never runs outside its limits
                message = f"The call could not join its cgroup: {refused}"
                outcome = {"state": "failed", "message": message, "trace": ""}
                os.write(fds[RESULT_FD], json.dumps(outcome).encode())
                os._exit(0)
            _prctl(PR_SET_NAME, self.name, 0, 0, 0)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in fds:
                if fd > RESULT_FD:
                    os.close(fd)
            self.runtime.serve_call(self.handle, RESULT_FD)
        finally:
            os._exit(70)

    def reap(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wakeup_r, 4096):
                pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue  # an orphan of a call
            call_id, scratch = child
            # Nothing the call started outlives it, on disk or as a process.
            _kill_group(pid)
            _remove(scratch)
            if call_id is not None:
                returncode = os.waitstatus_to_exitcode(status)
                # Formatted rather than json.dumps'd: that is much more code run per call.
                self.control.send(
                    b'{"op": "exited", "id": %d, "returncode": %d}' % (call_id, returncode)
                )
                if self.spare is None:
                    self.fork_spare_if_possible()
            elif self.spare is not None and self.spare[0] == pid:
                self.spare[1].close()  # the next call forks its own
                self.spare = None
                if self.spare_cgroup:  # which joins the cgroup this one had
                    self.give_cgroup(self.spare_cgroup)
                    self.spare_cgroup = []

    def shutdown(self) -> None:
        for pid in list(self.children):
            _kill_group(pid)


def join_cgroup(fds: Sequence[int]) -> None:
    """Move this process into the cgroup whose `cgroup.procs` descriptors the server sent."""
    for fd in fds:
        os.write(fd, b"0")
        os.close(fd)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _remove(scratch: str) -> None:
    try:
        os.rmdir(scratch)  # most calls leave their temporary directory empty
    except OSError:
        import shutil  # only when needed: each module the zygote holds makes every fork dearer

        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # Calls the server loses track of die with this instance; orphans come back to it.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    join_cgroup([int(fd) for fd in sys.argv[2:]])
    zygote = Zygote(control, _load_runtime())
    data = control.recv(MESSAGE_BYTES)
    if data and zygote.load(json.loads(data)):
        # What is loaded now is only ever read: kept out of the collector's way, a collection
        # in a call does not write to (and so copy) the pages it shares with this process.
        gc.freeze()
        zygote.serve()


if __name__ == "__main__":
    main()
