"""Files: the metadata entry, the pre-authorised upload, and the snapshot of bytes it points at."""

import asyncio
import hashlib
import hmac
import secrets

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.files import FileCreate, FileRead
from fnhost.services import identifiers
from fnhost.services.platform import Platform
from fnhost.store import files as files_store
from fnhost.store.tables import File


def to_read(row: File, *, upload_url: str | None = None) -> FileRead:
    return FileRead.model_validate(
        {
            **row.attributes,
            "id": row.id,
            "name": row.name,
            "external_id": row.external_id,
            "uploaded": row.uploaded,
            "uploaded_time": row.uploaded_time,
            "created_time": row.created_time,
            "last_updated_time": row.last_updated_time,
            "upload_url": upload_url,
        }
    )


async def create(
    platform: Platform, *, project: str, body: FileCreate, overwrite: bool
) -> tuple[FileRead, str]:
    """Create (or, with `overwrite`, replace) a file entry; returns it and its upload key."""
    now = clock.to_ms(clock.now())
    attributes = body.model_dump(exclude={"name", "external_id"}, exclude_none=True)
    upload_key = secrets.token_urlsafe(32)
    async with platform.db.write() as session:
        existing = None
        if body.external_id is not None:
            existing = await files_store.get_by_external_id(
                session, project=project, external_id=body.external_id
            )
        if existing is not None and not overwrite:
            raise errors.Conflict(
                "A file with this externalId already exists",
                duplicated=[{"externalId": body.external_id}],
            )
        if existing is not None:
            # Same id, new metadata, new upload URL; the old bytes stay wherever a
            # function snapshot refers to them.
            existing.name = body.name
            existing.attributes = attributes
            existing.upload_key = upload_key
            existing.blob_digest = None
            existing.size = None
            existing.uploaded = False
            existing.uploaded_time = None
            existing.last_updated_time = now
            row = existing
        else:
            row = await files_store.insert(
                session,
                project=project,
                external_id=body.external_id,
                name=body.name,
                attributes=attributes,
                upload_key=upload_key,
                uploaded=False,
                created_time=now,
                last_updated_time=now,
            )
        await session.flush()
        return to_read(row), upload_key


async def upload(platform: Platform, *, upload_key: str, content: bytes) -> None:
    """Store the bytes behind an upload URL; the file is `uploaded` when this returns."""
    if len(content) > platform.settings.builds.upload_max_bytes:
        raise errors.PayloadTooLarge(
            f"The upload is {len(content)} bytes; the limit is "
            f"{platform.settings.builds.upload_max_bytes} (FNHOST_UPLOAD_MAX_BYTES)"
        )
    async with platform.db.read() as session:
        known = await files_store.get_by_upload_key(session, upload_key=upload_key) is not None
    if not known:  # checked first, so that a bad URL stores nothing
        raise errors.NotFound("Unknown or expired upload URL")
    digest = await asyncio.to_thread(platform.blobs.put, content)
    now = clock.to_ms(clock.now())
    async with platform.db.write() as session:
        row = await files_store.get_by_upload_key(session, upload_key=upload_key)
        if row is None:  # replaced by an overwrite meanwhile
            raise errors.NotFound("Unknown or expired upload URL")
        row.blob_digest = digest
        row.size = len(content)
        row.uploaded = True
        row.uploaded_time = now
        row.last_updated_time = now


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[FileRead]:
    ids, external_ids = identifiers.split(items)
    async with platform.db.read() as session:
        rows = await files_store.get_many(
            session, project=project, ids=ids, external_ids=external_ids
        )
    found = identifiers.match(items, rows, ignore_unknown=ignore_unknown, what="Files")
    return [to_read(row) for row in found]


async def delete(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> None:
    ids, external_ids = identifiers.split(items)
    async with platform.db.write() as session:
        rows = await files_store.get_many(
            session, project=project, ids=ids, external_ids=external_ids
        )
        found = identifiers.match(items, rows, ignore_unknown=ignore_unknown, what="Files")
        await files_store.delete_many(session, project=project, ids=[row.id for row in found])


def download_token(row: File) -> str:
    """A capability for downloading `row`, derived from its secret upload key (not invertible)."""
    return hashlib.sha256(f"download:{row.upload_key}".encode()).hexdigest()


async def download_links(
    platform: Platform, *, project: str, items: list[Identifier]
) -> list[tuple[int, str]]:
    """(file id, download token) for each named file; unknown ones are a 400 + missing."""
    files = await retrieve(platform, project=project, items=items, ignore_unknown=False)
    async with platform.db.read() as session:
        rows = [await files_store.get(session, project=project, file_id=f.id) for f in files]
    return [(row.id, download_token(row)) for row in rows if row is not None]


async def download(platform: Platform, *, file_id: int, token: str) -> tuple[File, bytes]:
    """The bytes behind a download link."""
    async with platform.db.read() as session:
        row = await session.get(File, file_id)
    if row is None or not hmac.compare_digest(download_token(row), token):
        raise errors.NotFound("Unknown or expired download link")
    if row.blob_digest is None:
        raise errors.InvalidInput(f"File {file_id} has no content yet: upload it first")
    return row, platform.blobs.get(row.blob_digest)
