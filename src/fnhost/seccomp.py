"""The seccomp filter of function processes: the system calls a function never needs, refused
with EPERM. Built once per server start with the system's libseccomp (through pyseccomp) and
handed to bubblewrap (`--seccomp FD`), which installs it just before it starts the function's
process; everything that process starts inherits it and cannot remove it."""

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# What a function is refused, by family (the families the README and the tests name).
REFUSED: dict[str, tuple[str, ...]] = {
    "namespaces": ("unshare", "setns"),
    # The new mount API too: it mounts without mount(2).
    "mount": (
        "mount",
        "umount2",
        "pivot_root",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
    ),
    "ptrace": ("ptrace",),
    "kexec": ("kexec_load", "kexec_file_load"),
    "modules": ("init_module", "finit_module", "delete_module"),
    "bpf": ("bpf",),
    "perf": ("perf_event_open",),
    "keys": ("keyctl", "add_key", "request_key"),
    "userfaultfd": ("userfaultfd",),
}

# clone(2) flags that make a new namespace; clone without them (fork, threads) is allowed.
CLONE_NAMESPACES = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
PER_LINUX = 0
PERSONALITY_QUERY = 0xFFFFFFFF


class SeccompUnavailable(RuntimeError):
    """libseccomp is missing or cannot build the filter here."""


def build() -> bytes:
    """The filter as a BPF program, ready for bubblewrap's --seccomp."""
    try:
        import pyseccomp as seccomp  # loads libseccomp.so.2: absent, it raises
    except (ImportError, OSError, RuntimeError) as error:
        raise SeccompUnavailable(f"libseccomp not found ({error}; package libseccomp2)") from None
    refuse = seccomp.ERRNO(errno.EPERM)
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for names in REFUSED.values():
            for name in names:
                rules.add_rule(refuse, name)
        for flag in CLONE_NAMESPACES:
            rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        # clone3 passes its flags in memory, out of a filter's sight: it fails as if the
        # kernel had none, and the C library falls back to clone, which is filtered.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        # personality: only PER_LINUX and the query are allowed. The query through LOG (an
        # allowed call, logged by the kernel's audit): libseccomp takes no rule of the filter's
        # default action, and one comparison per argument, so "not 0 and not query" is made of
        # "not 0" refused and "query" taken out of it.
        rules.add_rule(refuse, "personality", seccomp.Arg(0, seccomp.NE, PER_LINUX))
        rules.add_rule(seccomp.LOG, "personality", seccomp.Arg(0, seccomp.EQ, PERSONALITY_QUERY))
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            return out.read()
    except OSError as error:
        raise SeccompUnavailable(f"libseccomp could not build the filter: {error}") from None


@contextmanager
def descriptor(program: bytes | None) -> Iterator[int | None]:
    """A new descriptor holding `program` from its start, for one bubblewrap to read (each
    reads it to its end, so each gets one of its own), closed on exit; None for no program."""
    if program is None:
        yield None
        return
    fd = os.memfd_create("fnhost-seccomp")
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)
