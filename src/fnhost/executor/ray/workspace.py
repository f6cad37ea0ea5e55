"""A Ray node's own disk for fnhost, under the node's FNHOST_DATA_DIR: function code unpacked
once per version, environments built with the embedded builder's code, and sandbox uids
leased node-wide.

Nodes share no filesystem with the dispatcher and hold no database credentials: the code zip
arrives through Ray's object store, and everything else is derived from it here. Several
instance actors on one node (one per function) use the same directories at once, so every
entry appears by an atomic rename, and uids are leased with file locks held for an
instance's lifetime (the kernel releases them when its process dies, however it dies).
"""

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from fnhost.builder import runtimes, unpack, validate
from fnhost.builder.environments import Environment, Environments
from fnhost.builder.errors import BuildFailed
from fnhost.services.jobs import FunctionSpec
from fnhost.settings import Settings

# The settings that describe the node itself, read from the node's own environment (the one
# `ray start` ran in); every other setting is the dispatcher's, so limits are the same on
# every node.
NODE_OWN = {
    "server": ("data_dir",),
    "builds": ("environments_dir", "runtime_interpreters"),
    "sandbox": ("sandbox_uid_base",),
}
# How many uids from FNHOST_SANDBOX_UID_BASE a node may hand out (one per instance).
UIDS_PER_NODE = 100_000


class NoFreeUid(Exception):
    """Every sandbox uid this node may hand out is held by an instance."""


def on_this_node(policy: Settings) -> Settings:
    """The dispatcher's settings `policy`, with this node's own places and uids."""
    updates = {}
    for group, names in NODE_OWN.items():
        mine = getattr(policy, group)
        local = type(mine)()  # the group as this node's environment sets it
        updates[group] = mine.model_copy(update={name: getattr(local, name) for name in names})
    return policy.model_copy(update=updates)


def _code_key(spec: FunctionSpec) -> str:
    # The root found in a zip depends on the function path (see validate.find_code_root).
    return hashlib.sha256(f"{spec.code_digest}\n{spec.function_path}".encode()).hexdigest()[:32]


class Workspace:
    """Code and environments of the functions this node runs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._code_root = settings.layout.root / "code"
        self._code_root.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def code(self, spec: FunctionSpec, content: bytes) -> Path:
        """The function's unpacked code (the directory holding its handler), unpacked now
        unless this node has it already."""
        target = self._code_root / _code_key(spec)
        if target.is_dir():
            return target
        if hashlib.sha256(content).hexdigest() != spec.code_digest:
            raise BuildFailed("The function's code reached this node damaged (digest mismatch)")
        staging = self._code_root / f".unpacking-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.to_thread(self._unpack, content, staging, spec.function_path, target)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        return target

    def _unpack(self, content: bytes, staging: Path, function_path: str, target: Path) -> None:
        builds = self._settings.builds
        unpack.unpack(
            content,
            staging,
            max_bytes=builds.code_max_unpacked_bytes,
            max_files=builds.code_max_files,
        )
        try:
            validate.find_code_root(staging, function_path).rename(target)
        except OSError:
            # Another instance on this node unpacked the same version first.
            if not target.is_dir():
                raise

    async def environment(self, spec: FunctionSpec, code_dir: Path) -> Environment:
        """The function's environment, built on this node unless cached."""
        builds = self._settings.builds
        runtime = await asyncio.to_thread(runtimes.find, spec.runtime, builds.runtime_interpreters)
        if runtime is None:
            raise BuildFailed(
                f"Runtime {spec.runtime} is not available on this node "
                "(FNHOST_RUNTIME_INTERPRETERS in the node's environment)"
            )
        environments = Environments(
            self._settings.environments_dir,
            runtimes={spec.runtime: runtime},
            default_sdk=builds.default_cognite_sdk_version,
            build_timeout_seconds=builds.environment_build_timeout_seconds,
        )
        requirements_file = code_dir / "requirements.txt"
        requirements = requirements_file.read_text() if requirements_file.is_file() else ""
        return await environments.ensure(
            requirements=requirements,
            runtime=spec.runtime,
            index_url=spec.index_url,
            extra_index_urls=list(spec.extra_index_urls),
        )

    @contextlib.contextmanager
    def lease_uid(self) -> Iterator[int]:
        """A sandbox uid no other instance on this node holds, for as long as the block runs
        (or this process lives)."""
        leases = self._settings.layout.root / "uids"
        leases.mkdir(exist_ok=True, mode=0o700)
        base = self._settings.sandbox.sandbox_uid_base
        for uid in range(base, base + UIDS_PER_NODE):
            fd = os.open(leases / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield uid
            finally:
                os.close(fd)
            return
        raise NoFreeUid(
            f"Every sandbox uid from {base} (FNHOST_SANDBOX_UID_BASE) is in use on this node"
        )
