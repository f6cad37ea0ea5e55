"""A warm function instance: imports the handler once, then forks one child per call.

Started as `python -I -u zygote.py CONTROL_FD` in the function's environment (inside the
sandbox). CONTROL_FD is a SOCK_SEQPACKET socket to the server. Messages are small JSON
objects, one per packet:

  server -> zygote  {"op": "load", "code_dir", "function_path"}
                    {"op": "call", "id"} with four descriptors attached (SCM_RIGHTS): the
                        request pipe, stdout, stderr and the result pipe of the call
                    {"op": "kill", "id"}
  zygote -> server  {"op": "ready", "version"} or {"op": "failed", "message", "trace"}
                    {"op": "started", "id", "pid"}
                    {"op": "exited", "id", "returncode"}

A child runs exactly like a fresh interpreter that imported the handler: it shares nothing
with other calls (fork copies memory), reads its request from its own pipe, and reports its
outcome on the result pipe. Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
from types import ModuleType
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MESSAGE_BYTES = 64 * 1024
CALL_FDS = 4  # request, stdout, stderr, result
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
        self.children: dict[int, tuple[int, str]] = {}  # pid -> call id, its temp directory
        self.tmp = tempfile.gettempdir()
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_w, False)
        os.set_blocking(self.wakeup_r, False)

    def send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def load(self, message: dict[str, Any]) -> bool:
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
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(self.wakeup_r, selectors.EVENT_READ, "children")
        while True:
            for key, _ in selector.select():
                if key.data == "children":
                    self.reap()
                elif not self.receive():
                    self.shutdown()
                    return

    def receive(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, MESSAGE_BYTES, CALL_FDS)
        except ConnectionError:
            return False
        if not data:
            return False
        message = json.loads(data)
        if message["op"] == "call":
            self.fork(message["id"], fds)
        elif message["op"] == "kill":
            for pid, (call_id, _scratch) in self.children.items():
                if call_id == message["id"]:
                    _kill_group(pid)
        return True

    def fork(self, call_id: int, fds: list[int]) -> None:
        scratch = os.path.join(self.tmp, f"call-{call_id}")
        os.mkdir(scratch, 0o700)
        pid = os.fork()
        if pid == 0:
            self.run_child(fds, scratch)
        for fd in fds:
            os.close(fd)
        self.children[pid] = (call_id, scratch)
        self.send({"op": "started", "id": call_id, "pid": pid})

    def run_child(self, fds: list[int], scratch: str) -> None:
        try:
            # A temporary directory of the call's own, removed when it ends.
            os.environ["TMPDIR"] = os.environ["HOME"] = scratch
            tempfile.tempdir = None
            os.setsid()  # its own process group, killed as a whole
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in (*fds, self.control.fileno(), self.wakeup_r, self.wakeup_w):
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
            call = self.children.pop(pid, None)
            if call is not None:
                call_id, scratch = call
                # Nothing the call started outlives it, on disk or as a process.
                _kill_group(pid)
                _remove(scratch)
                returncode = os.waitstatus_to_exitcode(status)
                self.send({"op": "exited", "id": call_id, "returncode": returncode})

    def shutdown(self) -> None:
        for pid in list(self.children):
            _kill_group(pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _remove(scratch: str) -> None:
    try:
        os.rmdir(scratch)  # most calls leave their temporary directory empty
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    # Calls the server loses track of die with this instance; orphans come back to it.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    zygote = Zygote(control, _load_runtime())
    data = control.recv(MESSAGE_BYTES)
    if data and zygote.load(json.loads(data)):
        # What is loaded now is only ever read: kept out of the collector's way, a collection
        # in a call does not write to (and so copy) the pages it shares with this process.
        gc.freeze()
        zygote.serve()


if __name__ == "__main__":
    main()
