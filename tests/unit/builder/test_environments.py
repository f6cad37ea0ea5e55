"""The environment cache: keys, sharing between processes, and collection (uv faked)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from fnhost.builder import environments as environments_module
from fnhost.builder.environments import Environments, name_of, requirement_names
from fnhost.builder.runtimes import Runtime

RUNTIMES = {"py311": Runtime("py311", "/usr/bin/python3.11", "Python 3.11.7")}
HOUR = 3600.0


@pytest.fixture
def uv_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Fake uv: `venv` makes a staging directory with bin/python; `pip install` does nothing."""
    commands: list[list[str]] = []

    async def run(command: list[str], *, secrets: list[str], timeout_seconds: float) -> str:
        commands.append(command)
        if "venv" in command:
            python = Path(command[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.touch()
        await asyncio.sleep(0)  # let a concurrent build interleave
        return ""

    monkeypatch.setattr(environments_module.uv, "run", run)
    return commands


def entries(root: Path) -> set[str]:
    return {path.name for path in root.iterdir()}


def cache(root: Path) -> Environments:
    return Environments(root, runtimes=RUNTIMES, default_sdk="8.22.0", build_timeout_seconds=60)


async def ensure(environments: Environments, requirements: str = "") -> str:
    environment = await environments.ensure(
        requirements=requirements, runtime="py311", index_url=None, extra_index_urls=[]
    )
    return environment.python


def test_requirement_names_are_normalized_and_skip_options() -> None:
    text = "Cognite_SDK>=7  # pinned\n-r other.txt\n--index-url x\nnumpy\n\n"
    assert requirement_names(text) == {"cognite-sdk", "numpy"}


async def test_same_inputs_share_one_environment(tmp_path: Path, uv_runs: list[list[str]]) -> None:
    environments = cache(tmp_path)
    first = await environments.ensure(
        requirements="tabulate==0.9.0", runtime="py311", index_url=None, extra_index_urls=[]
    )
    again = await environments.ensure(
        requirements="tabulate==0.9.0\n", runtime="py311", index_url=None, extra_index_urls=[]
    )
    assert (first.built, again.built) == (True, False)
    assert first.python == again.python
    assert len(uv_runs) == 2  # one venv, one install


async def test_unpinned_sdk_gets_the_default_and_pinned_sdk_is_kept(
    tmp_path: Path, uv_runs: list[list[str]]
) -> None:
    environments = cache(tmp_path)
    unpinned = Path(await ensure(environments, "tabulate")).parent.parent
    pinned = Path(await ensure(environments, "cognite-sdk==7.90.0")).parent.parent
    built_from = "fnhost-requirements.txt"
    assert (unpinned / built_from).read_text() == "tabulate\ncognite-sdk==8.22.0\n"
    assert (pinned / built_from).read_text() == "cognite-sdk==7.90.0\n"


async def test_two_processes_building_the_same_environment_end_with_one(
    tmp_path: Path, uv_runs: list[list[str]]
) -> None:
    # Two caches on one directory stand for two server processes: no shared lock.
    pythons = await asyncio.gather(ensure(cache(tmp_path)), ensure(cache(tmp_path)))
    assert pythons[0] == pythons[1]
    assert len(uv_runs) == 4, "both built: the second found the first one's result in place"
    assert entries(tmp_path) == {name_of(pythons[0])}
    assert entries(tmp_path / name_of(pythons[0]) / "bin") == {"python"}


async def test_collect_keeps_base_used_and_recent_environments(
    tmp_path: Path, uv_runs: list[list[str]]
) -> None:
    environments = cache(tmp_path)
    base = name_of((await environments.prepare_base("py311")).python)
    used = name_of(await ensure(environments, "used"))
    recent = name_of(await ensure(environments, "recent"))
    old = name_of(await ensure(environments, "old"))
    now = (tmp_path / recent / ".last-used").stat().st_mtime
    for name in (base, used, old):
        os.utime(tmp_path / name / ".last-used", (now - 10 * HOUR, now - 10 * HOUR))

    removed = await environments.collect(
        used=lambda name: name == used, keep_seconds=5 * HOUR, now=now
    )
    assert removed == [old]
    assert entries(tmp_path) == {base, used, recent}
    # Kept environments in use are marked again, so other servers sharing the cache keep them.
    assert (tmp_path / used / ".last-used").stat().st_mtime > now - HOUR


async def test_collect_removes_abandoned_staging_directories(
    tmp_path: Path, uv_runs: list[list[str]]
) -> None:
    environments = cache(tmp_path)
    abandoned = tmp_path / "abc.building-123-deadbeef"
    in_progress = tmp_path / "abc.building-456-feedface"
    half_deleted = tmp_path / "abc.deleting-0badf00d"
    for directory in (abandoned, in_progress, half_deleted):
        directory.mkdir()
    now = in_progress.stat().st_mtime
    os.utime(abandoned, (now - 61, now - 61))
    await environments.collect(used=lambda name: False, keep_seconds=HOUR, now=now)
    assert entries(tmp_path) == {in_progress.name}
