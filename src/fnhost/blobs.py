"""Content-addressed storage for code zips and uploaded files, and the parts of multipart uploads
in progress: an interface with two homes. On one machine (SQLite) they are files under the data
directory; where the database is shared (PostgreSQL) they live in it (store/blobs.py), so that
replicas and dispatchers each on a disk of their own all read the same bytes.

Content addressing is what makes a deployed function's code a snapshot: a later upload to
the same Files entry stores a new digest and never touches the one a function points at.
"""

import asyncio
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class BlobNotFound(LookupError):
    """No blob has this digest."""


class PartsTooLarge(Exception):
    """The parts of an upload would come to more than its limit."""

    def __init__(self, total: int) -> None:
        super().__init__(f"{total} bytes")
        self.total = total


class PartsMissing(Exception):
    """Some parts of an upload were never stored."""

    def __init__(self, missing: list[int]) -> None:
        super().__init__(f"parts {missing} missing")
        self.missing = missing


class Blobs(Protocol):
    """Immutable blobs keyed by their SHA-256 digest, and the parts of uploads in progress."""

    async def put(self, content: bytes) -> str:
        """Store `content` (idempotently) and return its digest."""
        ...

    async def get(self, digest: str) -> bytes:
        """The blob of `digest`; BlobNotFound when there is none."""
        ...

    async def put_part(self, upload_key: str, part: int, content: bytes, *, limit: int) -> None:
        """Stage (or replace) one part of an upload; PartsTooLarge when the upload's parts
        would come to more than `limit` bytes."""
        ...

    async def joined(self, upload_key: str, count: int) -> bytes:
        """Parts 0 to `count` - 1 of an upload, joined; PartsMissing names those not staged."""
        ...

    async def drop_parts(self, upload_key: str) -> None:
        """Forget an upload's parts."""
        ...


def check_digest(digest: str) -> str:
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a SHA-256 digest: {digest!r}")
    return digest


async def digest_of(content: bytes) -> str:
    """The SHA-256 of `content`, hashed off the event loop (an upload may be 100 MB)."""
    return await asyncio.to_thread(lambda: hashlib.sha256(content).hexdigest())


class FileBlobs:
    """Blobs as files under `root` (one per digest), parts under `parts` (a folder per upload)."""

    def __init__(self, root: Path, parts: Path) -> None:
        self.root = root
        self._parts = parts
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, digest: str) -> Path:
        return self.root / check_digest(digest)[:2] / digest

    async def put(self, content: bytes) -> str:
        digest = await digest_of(content)
        await asyncio.to_thread(self._write, self.path(digest), content)
        return digest

    @staticmethod
    def _write(target: Path, content: bytes) -> None:
        if target.exists():
            return
        target.parent.mkdir(exist_ok=True, mode=0o700)
        # Written beside the target and renamed, so a reader never sees a partial blob.
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, digest: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(digest).read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    async def put_part(self, upload_key: str, part: int, content: bytes, *, limit: int) -> None:
        await asyncio.to_thread(self._write_part, self._parts / upload_key, part, content, limit)

    @staticmethod
    def _write_part(folder: Path, part: int, content: bytes, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        others = sum(
            p.stat().st_size for p in folder.iterdir() if p.name.isdigit() and p.name != str(part)
        )
        if others + len(content) > limit:
            raise PartsTooLarge(others + len(content))
        # Written beside and renamed: joining never reads a part half written.
        fd, staged = tempfile.mkstemp(dir=folder, prefix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(staged, folder / str(part))

    async def joined(self, upload_key: str, count: int) -> bytes:
        return await asyncio.to_thread(self._joined, self._parts / upload_key, count)

    @staticmethod
    def _joined(folder: Path, count: int) -> bytes:
        missing = [n for n in range(count) if not (folder / str(n)).is_file()]
        if missing:
            raise PartsMissing(missing)
        return b"".join((folder / str(n)).read_bytes() for n in range(count))

    async def drop_parts(self, upload_key: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._parts / upload_key, True)
