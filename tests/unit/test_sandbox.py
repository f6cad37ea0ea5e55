import signal
from pathlib import Path

import pytest

from fnhost.sandbox import CODE_MOUNT, Isolation, Launch, Limits, Sandbox, UidPool

LIMITS = Limits(cpu=1, memory_gb=1.5, processes=32, open_files=64, file_size_mb=8, tmp_size_mb=16)
BWRAP_AS_ROOT = Isolation(
    "bwrap",
    "bubblewrap works",
    network=True,
    uid_base=2_000_000_000,
    bwrap="/usr/bin/bwrap",
    setpriv="/usr/bin/setpriv",
    prlimit="/usr/bin/prlimit",
)
PYTHON = "/srv/envs/abc/bin/python"


def after(args: list[str], option: str) -> str:
    return args[args.index(option) + 1]


def launched(sandbox: Sandbox) -> Launch:
    """The launch of a process on /c (its description stays readable after the block)."""
    with sandbox.launch(
        python=PYTHON, code_dir=Path("/c"), scratch=Path("/s"), limits=LIMITS
    ) as it:
        return it


def test_prlimit_args_pin_soft_and_hard_limits() -> None:
    assert LIMITS.prlimit_args(processes=True) == [
        f"--as={int(1.5 * 1024**3)}:{int(1.5 * 1024**3)}",
        "--nofile=64:64",
        f"--fsize={8 * 1024**2}:{8 * 1024**2}",
        "--nproc=32:32",
    ]
    assert not any(arg.startswith("--nproc") for arg in LIMITS.prlimit_args(processes=False))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("memory", "ran out of memory (limit 1.5 GB"),
        ("processes", "limit of 32 processes and threads (FNHOST_CALL_MAX_PROCESSES)"),
        ("open_files", "limit of 64 open files (FNHOST_CALL_MAX_OPEN_FILES)"),
        ("file_size", "larger than the limit of 8 MB (FNHOST_CALL_MAX_FILE_SIZE_MB)"),
        ("disk", "filled its temporary space (limit 16 MB in /tmp, FNHOST_CALL_TMP_SIZE_MB)"),
    ],
)
def test_each_limit_is_named_in_its_message(kind: str, expected: str) -> None:
    assert expected in LIMITS.describe(kind, tmp_limited=True)  # type: ignore[arg-type]


def test_a_full_disk_without_a_sandbox_tmp_is_just_a_full_disk() -> None:
    assert LIMITS.describe("disk", tmp_limited=False) == "ran out of disk space"


def test_as_root_the_process_drops_to_a_pool_uid_after_the_limits() -> None:
    sandbox = Sandbox(BWRAP_AS_ROOT, hidden=[], slots=2)
    with sandbox.launch(
        python=PYTHON, code_dir=Path("/data/functions/7/code"), scratch=Path("/s"), limits=LIMITS
    ) as launch:
        args = launch.prefix
        assert args[0] == "/usr/bin/bwrap" and args[-1] == PYTHON
        assert "--unshare-user" not in args and "--unshare-net" not in args
        assert {"--unshare-pid", "--die-with-parent"} <= set(args)
        assert after(args, "--size") == str(16 * 1024**2)
        assert args[args.index("--size") + 2 : args.index("--size") + 4] == ["--tmpfs", "/tmp"]
        assert args[args.index("/usr") - 1 : args.index("/usr") + 2] == [
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        code = args.index("/data/functions/7/code")
        assert args[code - 1 : code + 2] == ["--ro-bind", "/data/functions/7/code", CODE_MOUNT]
        assert "/srv/envs/abc" in args  # the venv, read-only at its own path
        tail = args[args.index("--", args.index("--chdir")) :]
        assert tail[1] == "/usr/bin/prlimit" and "--nproc=32:32" in tail
        assert tail[tail.index("/usr/bin/setpriv") + 1] == "--reuid=2000000000"
        assert "--no-new-privs" in tail
        assert (launch.code_dir, launch.home, launch.cwd) == (CODE_MOUNT, "/tmp", "/s")
        with sandbox.launch(
            python=PYTHON, code_dir=Path("/c"), scratch=Path("/s"), limits=LIMITS
        ) as second:
            assert "--reuid=2000000001" in second.prefix  # a call at once gets its own uid


def test_network_deny_and_a_non_root_server_use_namespaces() -> None:
    isolation = Isolation("bwrap", "ok", network=False, prlimit="/usr/bin/prlimit")
    sandbox = Sandbox(isolation, hidden=[], slots=1)
    it = launched(sandbox)
    assert {"--unshare-net", "--unshare-user"} <= set(it.prefix)
    assert not any("setpriv" in arg for arg in it.prefix)


def test_server_directories_under_a_system_directory_are_covered() -> None:
    sandbox = Sandbox(
        BWRAP_AS_ROOT, hidden=[Path("/usr/local/fnhost"), Path("/home/me/data")], slots=1
    )
    it = launched(sandbox)
    assert it.prefix[it.prefix.index("/usr/local/fnhost") - 1] == "--tmpfs"
    assert "/home/me/data" not in it.prefix  # not bound in the first place


def test_without_a_sandbox_only_the_limits_wrap_the_interpreter() -> None:
    isolation = Isolation("none", "FNHOST_SANDBOX=none", network=True, prlimit="/usr/bin/prlimit")
    sandbox = Sandbox(isolation, hidden=[], slots=1)
    it = launched(sandbox)
    assert it.prefix == ["/usr/bin/prlimit", *LIMITS.prlimit_args(processes=False), "--", PYTHON]
    assert (it.code_dir, it.home, it.cwd) == ("/c", "/s", "/c")
    assert it.returncode(137) == 137


def test_bubblewrap_exit_codes_of_signals_read_as_signals() -> None:
    sandbox = Sandbox(BWRAP_AS_ROOT, hidden=[], slots=1)
    it = launched(sandbox)
    assert it.returncode(128 + signal.SIGKILL) == -signal.SIGKILL
    assert it.returncode(7) == 7
    assert it.returncode(-signal.SIGKILL) == -signal.SIGKILL


def test_uid_pool_hands_out_each_uid_once_at_a_time() -> None:
    pool = UidPool(100, 2)
    with pool.take() as first, pool.take() as second:
        assert {first, second} == {100, 101}
        with pytest.raises(RuntimeError, match="every sandbox uid is in use"), pool.take():
            pass
    with pool.take() as again:
        assert again in {100, 101}
