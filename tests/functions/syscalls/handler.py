"""Tries the system calls a function is refused, a few per family, through ctypes, and reports
the errno of each by name. The arguments are harmless, and where they can, would fail with
another errno than the filter's (EFAULT, EBADF, EINVAL, ESRCH...), so the filter shows. Then
checks that threads, subprocesses and multiprocessing still work."""

import ctypes
import errno
import multiprocessing
import os
import platform
import subprocess
import sys
import threading

NUMBERS = {
    "x86_64": {
        "unshare": 272,
        "setns": 308,
        "clone": 56,
        "clone3": 435,
        "mount": 165,
        "umount2": 166,
        "fsopen": 430,
        "ptrace": 101,
        "kexec_load": 246,
        "init_module": 175,
        "delete_module": 176,
        "bpf": 321,
        "perf_event_open": 298,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "userfaultfd": 323,
        "personality": 135,
    },
    "aarch64": {
        "unshare": 97,
        "setns": 268,
        "clone": 220,
        "clone3": 435,
        "mount": 40,
        "umount2": 39,
        "fsopen": 430,
        "ptrace": 117,
        "kexec_load": 104,
        "init_module": 105,
        "delete_module": 106,
        "bpf": 280,
        "perf_event_open": 241,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "userfaultfd": 282,
        "personality": 92,
    },
}[platform.machine()]

CLONE_FS = 0x200
CLONE_NEWUSER = 0x10000000
PER_BSD = 6
PERSONALITY_QUERY = 0xFFFFFFFF

ATTEMPTS = {
    "namespaces": [("unshare", CLONE_NEWUSER), ("setns", -1, 0)],
    # CLONE_FS with a new user namespace is invalid (EINVAL) once past the filter.
    "clone": [("clone", CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0)],
    "clone3": [("clone3", 0, 0)],
    "mount": [("mount", 0, 0, 0, 0, 0), ("umount2", 0, 0), ("fsopen", 0, 0)],
    "ptrace": [("ptrace", 16, 0, 0, 0)],  # PTRACE_ATTACH to no process
    "kexec": [("kexec_load", 0, 0, 0, 0)],
    "modules": [("init_module", 0, 0, 0), ("delete_module", 0, 0)],
    "bpf": [("bpf", -1, 0, 0)],
    "perf": [("perf_event_open", 0, 0, -1, -1, 0)],
    "keys": [("keyctl", -1, 0), ("add_key", 0, 0, 0, 0, 0), ("request_key", 0, 0, 0, 0)],
    "userfaultfd": [("userfaultfd", -1)],
    "personality": [("personality", PER_BSD)],
}

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _syscall(name, *args):
    """The errno's name, or "ok" if the call went through."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(NUMBERS[name]), *(ctypes.c_long(a) for a in args))
    if result == -1:
        return errno.errorcode[ctypes.get_errno()]
    if name == "userfaultfd":
        os.close(result)
    return "ok"


def _square(x):
    return x * x


def _normal_things():
    box = []
    thread = threading.Thread(target=box.append, args=(1,))
    thread.start()
    thread.join()
    child = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        squares = pool.map(_square, [1, 2, 3])
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    return {
        "thread": box == [1],
        "subprocess": child.stdout.strip() == "42",
        "multiprocessing": squares == [1, 4, 9],
        "fork": os.waitstatus_to_exitcode(status) == 7,
    }


def handle():
    refused = {
        family: {attempt[0]: _syscall(*attempt) for attempt in attempts}
        for family, attempts in ATTEMPTS.items()
    }
    allowed = {
        "personality_query": _syscall("personality", PERSONALITY_QUERY),
        "personality_linux": _syscall("personality", 0),
    }
    return {"refused": refused, "allowed": allowed, "normal": _normal_things()}
