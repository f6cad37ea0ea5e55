"""Multipart uploads, the way the SDK's `files.upload(path)` sends a file: the file entry and
one upload URL per part, a PUT to each (in any order), then `completemultipartupload`, which
joins the parts into the file's bytes. Parts wait in the blob store (the data directory's work
area on one machine, the database where it is shared, as parts may reach different replicas)."""

from functools import partial

from fnhost import errors
from fnhost.blobs import PartsMissing, PartsTooLarge
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
    limit = platform.settings.builds.upload_max_bytes
    try:
        await platform.blobs.put_part(upload_key, part, content, limit=limit)
    except PartsTooLarge as error:
        raise errors.PayloadTooLarge(
            f"The parts uploaded come to {error.total} bytes; the limit is {limit} "
            "(FNHOST_UPLOAD_MAX_BYTES)"
        ) from None


async def complete(platform: Platform, *, project: str, file_id: int, upload_id: str) -> None:
    """POST /files/completemultipartupload: join the parts; the file is `uploaded` after."""
    count, _, upload_key = upload_id.partition(".")
    file = await platform.db.run_read(partial(files_store.get, project=project, file_id=file_id))
    if file is None or not count.isdigit() or file.upload_key != upload_key:
        raise errors.InvalidInput(
            f"No multipart upload {upload_id!r} of file {file_id}: pass the id and uploadId "
            "returned by initmultipartupload"
        )
    parts = _check_parts(int(count))
    try:
        content = await platform.blobs.joined(upload_key, parts)
    except PartsMissing as error:
        raise errors.InvalidInput(
            f"Parts {error.missing} of {parts} were not uploaded: PUT each to its upload URL first"
        ) from None
    await files.upload(platform, upload_key=upload_key, content=content)
    await platform.blobs.drop_parts(upload_key)
