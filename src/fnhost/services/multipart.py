"""Multipart uploads, the way the SDK's `files.upload(path)` sends a file: the file entry and
one upload URL per part, a PUT to each (in any order), then `completemultipartupload`, which
joins the parts into the file's bytes. Parts wait on disk in the data directory's work area."""

import asyncio
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

from fnhost import errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.files import FileCreate, FileRead
from fnhost.services import files
from fnhost.services.platform import Platform
from fnhost.store import files as files_store

MAX_PARTS = 250  # as CDF


def upload_id_of(upload_key: str, parts: int) -> str:
    """What the client hands back to complete the upload: the part count and the upload key."""
    return f"{parts}.{upload_key}"


def _check_parts(parts: int) -> int:
    if not 1 <= parts <= MAX_PARTS:
        raise errors.InvalidInput(f"parts must be between 1 and {MAX_PARTS}, not {parts}")
    return parts


async def start(
    platform: Platform, *, project: str, body: FileCreate, overwrite: bool, parts: int
) -> tuple[FileRead, str]:
    """POST /files/initmultipartupload: the file entry (as POST /files) and its upload key."""
    _check_parts(parts)
    return await files.create(platform, project=project, body=body, overwrite=overwrite)


async def restart(
    platform: Platform, *, project: str, item: Identifier, parts: int
) -> tuple[FileRead, str]:
    """POST /files/multiuploadlink: new bytes for an existing file, in parts."""
    _check_parts(parts)
    ((file, upload_key),) = await files.new_upload_keys(platform, project=project, items=[item])
    return file, upload_key


async def put_part(platform: Platform, *, upload_key: str, part: int, content: bytes) -> None:
    """Stage one part. Parts over FNHOST_UPLOAD_MAX_BYTES together are refused with a 413."""
    by_key = partial(files_store.get_by_upload_key, upload_key=upload_key)
    if await platform.db.run_read(by_key) is None:  # first: a bad URL stores nothing
        raise errors.NotFound("Unknown or expired upload URL")
    folder = platform.settings.layout.upload_parts(upload_key)
    await asyncio.to_thread(
        _write_part, folder, part, content, platform.settings.builds.upload_max_bytes
    )


def _write_part(folder: Path, part: int, content: bytes, limit: int) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    others = sum(
        p.stat().st_size for p in folder.iterdir() if p.name.isdigit() and p.name != str(part)
    )
    if others + len(content) > limit:
        raise errors.PayloadTooLarge(
            f"The parts uploaded come to {others + len(content)} bytes; the limit is {limit} "
            "(FNHOST_UPLOAD_MAX_BYTES)"
        )
    # Written beside and renamed: completing never reads a part half written.
    fd, staged = tempfile.mkstemp(dir=folder, prefix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(staged, folder / str(part))


async def complete(platform: Platform, *, project: str, file_id: int, upload_id: str) -> None:
    """POST /files/completemultipartupload: join the parts; the file is `uploaded` after."""
    count, _, upload_key = upload_id.partition(".")
    file = await platform.db.run_read(partial(files_store.get, project=project, file_id=file_id))
    if file is None or not count.isdigit() or file.upload_key != upload_key:
        raise errors.InvalidInput(
            f"No multipart upload {upload_id!r} of file {file_id}: pass the id and uploadId "
            "returned by initmultipartupload"
        )
    folder = platform.settings.layout.upload_parts(upload_key)
    content = await asyncio.to_thread(_joined, folder, _check_parts(int(count)))
    await files.upload(platform, upload_key=upload_key, content=content)
    await asyncio.to_thread(shutil.rmtree, folder, True)


def _joined(folder: Path, count: int) -> bytes:
    missing = [n for n in range(count) if not (folder / str(n)).is_file()]
    if missing:
        raise errors.InvalidInput(
            f"Parts {missing} of {count} were not uploaded: PUT each to its upload URL first"
        )
    return b"".join((folder / str(n)).read_bytes() for n in range(count))
