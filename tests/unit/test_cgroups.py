"""What a cgroup's limits write, per cgroup version. The real hierarchies are tested end to end
(tests/e2e/test_confinement.py, on the machine's cgroup version); the other version's files are
written here to plain files, since a machine has one or the other."""

from pathlib import Path

import pytest

from fnhost.cgroups import Group

GB = 1024**3


def cgroup_dir(root: Path, name: str, files: list[str]) -> Path:
    directory = root / name
    directory.mkdir()
    for file in files:
        (directory / file).write_text("")
    return directory


def test_v2_limits_are_a_cpu_max_a_memory_max_without_swap_and_a_group_kill(
    tmp_path: Path,
) -> None:
    files = ["cpu.max", "memory.max", "memory.swap.max", "memory.oom.group"]
    directory = cgroup_dir(tmp_path, "call-1", files)

    Group(2, (directory,), swap=True).limit(cpu=0.5, memory_bytes=GB)

    assert (directory / "cpu.max").read_text() == "50000 100000"
    assert (directory / "memory.max").read_text() == str(GB)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "memory.oom.group").read_text() == "1"


def test_v1_limits_go_to_the_cpu_and_the_memory_hierarchies(tmp_path: Path) -> None:
    cpu = cgroup_dir(tmp_path, "cpu-call-1", ["cpu.cfs_quota_us"])
    files = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    memory = cgroup_dir(tmp_path, "memory-call-1", files)

    Group(1, (cpu, memory), swap=True).limit(cpu=2, memory_bytes=GB)

    assert (cpu / "cpu.cfs_quota_us").read_text() == "200000"
    assert (memory / "memory.limit_in_bytes").read_text() == str(GB)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(GB)


def test_the_smallest_cpu_quota_is_the_kernels(tmp_path: Path) -> None:
    directory = cgroup_dir(tmp_path, "call-1", ["cpu.max", "memory.max", "memory.oom.group"])
    Group(2, (directory,)).limit(cpu=0.001, memory_bytes=GB)
    assert (directory / "cpu.max").read_text() == "1000 100000"


@pytest.mark.parametrize(
    ("version", "file", "content"),
    [
        (2, "memory.events", "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 1\n"),
        (1, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
    ],
)
def test_oom_kills_are_read_from_the_versions_counter(
    tmp_path: Path, version: int, file: str, content: str
) -> None:
    directory = cgroup_dir(tmp_path, "call-1", [])
    (directory / file).write_text(content)
    assert Group(version, (directory,)).oom_kills() == 2


def test_a_cgroup_is_empty_when_no_process_is_listed(tmp_path: Path) -> None:
    directory = cgroup_dir(tmp_path, "call-1", [])
    (directory / "cgroup.procs").write_text("")
    assert Group(2, (directory,)).empty()
    (directory / "cgroup.procs").write_text("4242\n")
    assert not Group(2, (directory,)).empty()
