"""Control groups holding the CPU and memory of function code: a function's `cpu` becomes a CPU
quota and its `memory` a memory limit that counts every process of a call, children included,
and the pages the call writes to its in-memory /tmp (tmpfs pages are charged to the cgroup of
the process that writes them).

cgroup v2 (a delegated subtree, as systemd gives a service with `Delegate=yes`) or v1 (the cpu
and memory hierarchies, writable as root). The server makes a directory of its own,
`fnhost-PID`, under its own cgroup (or FNHOST_CGROUP_ROOT), and in it a cgroup per warm
instance and per call. A process joins a cgroup by writing "0" to a descriptor of the cgroup's
`cgroup.procs` that the server opened (the kernel checks the opener's rights, not the
writer's): the zygote gets its instance's descriptors when it starts, each call its own with
its request, and each moves itself before any user code runs. Whatever it starts later is born
in that cgroup, and nothing in the sandbox can see the cgroup filesystem to leave it.
"""

import contextlib
import errno
import itertools
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from fnhost import timings

V1_CONTROLLERS = ("cpu", "memory")
CFS_PERIOD_US = 100_000
MIN_QUOTA_US = 1_000  # the kernel's smallest CPU quota
KILL_PASSES = 3  # a process may fork while the cgroup is being killed
OWN_DIR = re.compile(r"fnhost-(\d+)(-server)?")


class CgroupsUnavailable(RuntimeError):
    """No cgroup can be made for function code here."""


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _counter(path: Path, name: str) -> int:
    """A `name value` line of a cgroup's flat-keyed file (memory.events, memory.oom_control)."""
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


@dataclass(frozen=True)
class Group:
    """One cgroup: in v1 a directory in the cpu hierarchy and one in the memory hierarchy, in
    v2 one directory."""

    version: int
    dirs: tuple[Path, ...]
    # Whether the memory limit can cover swap (memory.memsw.*, memory.swap.max): the kernel
    # accounts swap. Found once by Cgroups, not per cgroup.
    swap: bool = False

    @property
    def memory_dir(self) -> Path:
        return self.dirs[-1]

    def limit(self, *, cpu: float, memory_bytes: int) -> None:
        """Set the CPU quota (cores) and the memory limit, swap included (no swap beyond it)."""
        quota = max(MIN_QUOTA_US, round(cpu * CFS_PERIOD_US))
        if self.version == 2:
            (directory,) = self.dirs
            _write(directory / "cpu.max", f"{quota} {CFS_PERIOD_US}")
            _write(directory / "memory.max", str(memory_bytes))
            if self.swap:
                _write(directory / "memory.swap.max", "0")
            # Out of memory, the whole call is killed, not only its largest process.
            _write(directory / "memory.oom.group", "1")
            return
        cpu_dir, memory_dir = self.dirs
        # A new cgroup's period is the kernel's default, CFS_PERIOD_US.
        _write(cpu_dir / "cpu.cfs_quota_us", str(quota))
        _write(memory_dir / "memory.limit_in_bytes", str(memory_bytes))
        if self.swap:
            _write(memory_dir / "memory.memsw.limit_in_bytes", str(memory_bytes))

    def join_fds(self) -> list[int]:
        """Descriptors of the cgroup's `cgroup.procs`: a process writing "0" to each joins."""
        fds: list[int] = []
        try:
            for directory in dict.fromkeys(self.dirs):
                fds.append(os.open(directory / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def empty(self) -> bool:
        """No process is in the cgroup (a process that exited has left it)."""
        try:
            return not (self.memory_dir / "cgroup.procs").read_bytes().strip()
        except OSError:
            return False

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this cgroup for want of memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            return _counter(self.memory_dir / name, "oom_kill")
        except (OSError, ValueError):
            return 0

    def watch_oom(self) -> int | None:
        """v1: an eventfd that becomes readable when the cgroup runs out of memory (v1 kills
        one process then, so the caller stops the rest). v2: None, the kernel kills them all."""
        if self.version == 2:
            return None
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(self.memory_dir / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _write(self.memory_dir / "cgroup.event_control", f"{efd} {control}")
            finally:
                os.close(control)
        except OSError:
            os.close(efd)
            raise
        return efd

    def kill(self) -> None:
        """Kill every process in the cgroup (those that left the call's process group too)."""
        if self.version == 2 and (self.memory_dir / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.memory_dir / "cgroup.kill", "1")
            return
        _kill_procs(self.memory_dir)

    def remove(self) -> bool:
        """Remove the cgroup; False while processes are still leaving it."""
        for directory in self.dirs:
            try:
                directory.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return True


@dataclass
class Cgroups:
    """The server's own directory of cgroups (one per hierarchy used), and what is made in it."""

    version: int
    bases: tuple[Path, ...]
    swap: bool = False
    _numbers: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    # Cgroups whose last processes were still exiting when they were discarded.
    _leftovers: list[Group] = field(default_factory=list)

    def describe(self) -> str:
        return f"cgroup v{self.version} ({', '.join(map(str, self.bases))})"

    def create(self, kind: str, *, cpu: float, memory_bytes: int) -> Group:
        """A new cgroup with these limits (`kind` names it: instance, call)."""
        name = f"{kind}-{next(self._numbers)}"
        group = Group(self.version, tuple(base / name for base in self.bases), self.swap)
        for directory in group.dirs:
            directory.mkdir()
        try:
            group.limit(cpu=cpu, memory_bytes=memory_bytes)
        except OSError:
            group.remove()
            raise
        return group

    def discard(self, group: Group) -> None:
        """Remove a cgroup. Where processes are still in it (exiting, or left behind by a
        call), they are killed and it is removed at a later discard, or at close."""
        self._leftovers = [earlier for earlier in self._leftovers if not _removed(earlier)]
        if not _removed(group):
            self._leftovers.append(group)

    def close(self) -> None:
        """Remove everything this server made, killing what is still in it (at its stop: its
        instances were stopped, their last processes may still be exiting)."""
        deadline = time.monotonic() + timings.CGROUPS_CLOSE_SECONDS
        while True:
            for base in self.bases:
                _remove_tree(base, kill=True)
            if not any(base.exists() for base in self.bases) or time.monotonic() > deadline:
                return
            time.sleep(timings.CGROUPS_CLOSE_RETRY_SECONDS)


def _kill_procs(directory: Path) -> None:
    for _ in range(KILL_PASSES):
        try:
            pids = [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _removed(group: Group) -> bool:
    if group.remove():
        return True
    group.kill()
    return False


def _remove_tree(directory: Path, *, kill: bool = False) -> None:
    """Remove a cgroup directory and its children, skipping those still in use (or killing
    what is in them first)."""
    with contextlib.suppress(OSError):
        for child in directory.iterdir():
            if child.is_dir():
                _remove_tree(child, kill=kill)
        if kill:
            _kill_procs(directory)
        directory.rmdir()


def _remove_stale(root: Path) -> None:
    """Directories of fnhost servers that are gone (a crash, a kill -9)."""
    with contextlib.suppress(OSError):
        for child in root.iterdir():
            match = OWN_DIR.fullmatch(child.name)
            if match is None or int(match[1]) == os.getpid():
                continue
            try:
                os.kill(int(match[1]), 0)
            except ProcessLookupError:
                _remove_tree(child)
            except PermissionError:
                continue


@dataclass(frozen=True)
class _Mount:
    root: str  # the cgroup path mounted there
    point: Path
    fstype: str
    options: frozenset[str]


def _mounts() -> list[_Mount]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            options = frozenset(tail[2].split(","))
            mounts.append(_Mount(fields[3], Path(fields[4]), tail[0], options))
    return mounts


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under "" its v2 one."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _in_mount(mount: _Mount, path: str) -> Path:
    """The directory of cgroup `path` under the mount (which may show a subtree only)."""
    relative = Path(path).relative_to(mount.root) if path.startswith(mount.root) else Path(path)
    return mount.point / str(relative).lstrip("/")


def _v2_root(mounts: list[_Mount], own: dict[str, str], configured: str | None) -> Path | None:
    unified = next((m for m in mounts if m.fstype == "cgroup2"), None)
    if unified is None or "" not in own:
        return None
    root = _in_mount(unified, configured or own[""])
    try:
        available = set((root / "cgroup.controllers").read_text().split())
    except OSError:
        return None
    return root if {"cpu", "memory"} <= available else None


def _enable_v2(root: Path, *, own: bool) -> None:
    """Let the cgroups below `root` use cpu and memory. A cgroup with processes cannot: in our
    own cgroup, the server first moves itself to a leaf of its own."""
    try:
        _write(root / "cgroup.subtree_control", "+cpu +memory")
        return
    except OSError as error:
        if error.errno != errno.EBUSY or not own:
            raise
    leaf = root / f"fnhost-{os.getpid()}-server"
    leaf.mkdir(exist_ok=True)
    _write(leaf / "cgroup.procs", "0")
    _write(root / "cgroup.subtree_control", "+cpu +memory")


def _roots(configured: str | None) -> tuple[int, tuple[Path, ...]]:
    mounts, own = _mounts(), _own_paths()
    v2 = _v2_root(mounts, own, configured)
    if v2 is not None:
        _enable_v2(v2, own=configured is None)
        return 2, (v2,)
    roots = []
    for controller in V1_CONTROLLERS:
        mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.options), None)
        if mount is None:
            raise CgroupsUnavailable(
                "no cgroup v2 with the cpu and memory controllers, nor a cgroup v1 "
                f"{controller} hierarchy"
            )
        roots.append(_in_mount(mount, configured or own.get(controller, "/")))
    return 1, tuple(roots)


def detect(configured_root: str | None) -> Cgroups:
    """The server's own cgroup directory, made and checked; raises CgroupsUnavailable."""
    bases: tuple[Path, ...] = ()
    try:
        version, roots = _roots(configured_root)
        bases = tuple(root / f"fnhost-{os.getpid()}" for root in roots)
        for root, base in zip(roots, bases, strict=True):
            _remove_stale(root)
            base.mkdir(exist_ok=True)
            if version == 2:
                _write(base / "cgroup.subtree_control", "+cpu +memory")
        swap_file = "memory.swap.max" if version == 2 else "memory.memsw.limit_in_bytes"
        cgroups = Cgroups(version, bases, swap=(bases[-1] / swap_file).exists())
        cgroups.discard(cgroups.create("probe", cpu=1, memory_bytes=64 * 1024 * 1024))
    except OSError as error:
        for base in bases:
            _remove_tree(base)
        raise CgroupsUnavailable(f"cannot make cgroups here: {error}") from None
    return cgroups
