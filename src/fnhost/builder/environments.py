"""Function environments: one virtualenv per distinct (requirements, runtime, index URLs),
built with uv, cached on disk, shared by every function that asks for the same, and collected
once no function has used it for a while.

The cache directory may be shared by several server processes: a build happens in a staging
directory of its own and is renamed into place atomically; whoever renames first wins.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uv as uv_package

from fnhost.builder import uv
from fnhost.builder.errors import BuildFailed
from fnhost.builder.runtimes import Runtime

logger = logging.getLogger(__name__)

REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
STAGING = ".building-"
DELETING = ".deleting-"
LAST_USED = ".last-used"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: str) -> set[str]:
    """The normalized project names a requirements file asks for."""
    names = set()
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if match := REQUIREMENT_NAME.match(line):
            names.add(_normalize(match.group(1)))
    return names


def name_of(python: str) -> str:
    """The cache entry an environment's interpreter path belongs to (`<root>/<name>/bin/python`)."""
    return Path(python).parent.parent.name


@dataclass(frozen=True)
class Environment:
    python: str
    runtime_version: str
    built: bool  # False when it came from the cache


class Environments:
    """Builds, caches and collects function environments under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        runtimes: dict[str, Runtime],
        default_sdk: str,
        build_timeout_seconds: float,
    ) -> None:
        self._root = root
        self._runtimes = runtimes
        self._default_sdk = default_sdk
        self._build_timeout_seconds = build_timeout_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._base: set[str] = set()
        root.mkdir(parents=True, exist_ok=True)

    def _spec(self, requirements: str, runtime: str, index_urls: list[str]) -> str:
        lines = requirements.strip()
        if "cognite-sdk" not in requirement_names(requirements):
            # Every function gets a working `client`, as on CDF.
            lines = f"{lines}\ncognite-sdk=={self._default_sdk}".strip()
        return json.dumps(
            {
                "requirements": lines,
                "interpreter": self._runtimes[runtime].version,
                "index_urls": index_urls,
            },
            sort_keys=True,
        )

    def _identify(self, requirements: str, runtime: str, index_urls: list[str]) -> tuple[str, str]:
        """The cache entry name of these inputs, and the full specification it stands for."""
        spec = self._spec(requirements, runtime, index_urls)
        return hashlib.sha256(spec.encode()).hexdigest()[:32], spec

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def ensure(
        self,
        *,
        requirements: str,
        runtime: str,
        index_url: str | None,
        extra_index_urls: list[str],
    ) -> Environment:
        """The environment for these inputs, built now unless it is cached."""
        if runtime not in self._runtimes:
            raise BuildFailed(f"Runtime {runtime} is not available on this server")
        name, spec = self._identify(requirements, runtime, [index_url or "", *extra_index_urls])
        target = self._root / name
        python = target / "bin" / "python"
        async with self._lock(name):
            built = not python.exists()
            if built:
                started = time.monotonic()
                logger.info(
                    "building environment %s for %s",
                    name,
                    runtime,
                    extra={"action": "environment_build_started", "environment": name},
                )
                try:
                    await self._build(
                        target,
                        json.loads(spec)["requirements"],
                        runtime,
                        index_url,
                        extra_index_urls,
                    )
                except BuildFailed:
                    logger.warning(
                        "environment %s failed to build after %.2f s",
                        name,
                        time.monotonic() - started,
                        extra={"action": "environment_build_failed", "environment": name},
                    )
                    raise
                logger.info(
                    "built environment %s in %.2f s",
                    name,
                    time.monotonic() - started,
                    extra={"action": "environment_built", "environment": name},
                )
            (target / LAST_USED).touch()
        return Environment(str(python), self._runtimes[runtime].version, built=built)

    async def prepare_base(self, runtime: str) -> Environment:
        """The environment of functions without requirements; it is never collected."""
        self._base.add(self._identify("", runtime, [""])[0])
        return await self.ensure(
            requirements="", runtime=runtime, index_url=None, extra_index_urls=[]
        )

    async def _build(
        self,
        target: Path,
        requirements: str,
        runtime: str,
        index_url: str | None,
        extra_index_urls: list[str],
    ) -> None:
        # Unique per process and build, so servers sharing the cache never collide.
        staging = target.with_name(f"{target.name}{STAGING}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        uv_bin = uv_package.find_uv_bin()
        secrets = [u for u in (index_url, *extra_index_urls) if u] + URL.findall(requirements)
        python = staging / "bin" / "python"
        # Compiled once here: instances run on the environment read-only, without writing
        # bytecode, so without it every instance start would compile what it imports again
        # (cognite-sdk, which `client` needs: 2.6 s to import from source, 0.9 s compiled).
        install = [uv_bin, "pip", "install", "--compile-bytecode", "--python", str(python), "-r"]
        install.append(str(staging / "fnhost-requirements.txt"))
        if index_url:
            install += ["--index-url", index_url]
        for url in extra_index_urls:
            install += ["--extra-index-url", url]
        try:
            await self._uv(
                [
                    *(uv_bin, "venv", "--quiet", "--relocatable", "--python"),
                    self._runtimes[runtime].interpreter,
                    str(staging),
                ],
                secrets,
            )
            (staging / "fnhost-requirements.txt").write_text(requirements + "\n")
            await self._uv(install, secrets)
            # Marked before it appears, so a collector never sees it unmarked.
            (staging / LAST_USED).touch()
            try:
                staging.rename(target)
            except OSError:
                # Another process sharing the cache finished the same environment first.
                if not (target / "bin" / "python").exists():
                    raise
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)

    async def _uv(self, command: list[str], secrets: list[str]) -> str:
        return await uv.run(command, secrets=secrets, timeout_seconds=self._build_timeout_seconds)

    async def collect(
        self, *, used: Callable[[str], bool], keep_seconds: float, now: float
    ) -> list[str]:
        """Delete environments that are not `used` and were last used `keep_seconds` before
        `now` (epoch seconds); the base environment stays. Returns the names deleted."""
        removed = []
        for directory in sorted(self._root.iterdir()):
            name = directory.name
            if STAGING in name or DELETING in name:
                # A build cannot outlive its timeout, so an older staging directory is debris.
                if DELETING in name or now - _mtime(directory) > self._build_timeout_seconds:
                    await asyncio.to_thread(shutil.rmtree, directory, True)
                continue
            async with self._lock(name):
                if name in self._base or used(name):
                    _refresh(directory, keep_seconds, now)
                    continue
                if now - _last_used(directory) < keep_seconds:
                    continue
                # Renamed first, so no process ever sees a half-deleted environment.
                doomed = directory.with_name(f"{name}{DELETING}{uuid.uuid4().hex[:8]}")
                try:
                    directory.rename(doomed)
                except FileNotFoundError:
                    continue
                await asyncio.to_thread(shutil.rmtree, doomed, True)
                removed.append(name)
                logger.info(
                    "deleted environment %s: no function used it",
                    name,
                    extra={"action": "environment_collected", "environment": name},
                )
        return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _last_used(directory: Path) -> float:
    marker = directory / LAST_USED
    return _mtime(marker) if marker.exists() else _mtime(directory)


def _refresh(directory: Path, keep_seconds: float, now: float) -> None:
    """Mark an environment in use, so other servers sharing the cache keep it too."""
    marker = directory / LAST_USED
    if now - _mtime(marker) > keep_seconds / 2:
        with contextlib.suppress(FileNotFoundError):
            marker.touch()
