"""Files: the metadata entry, the pre-authorised upload, and the snapshot of bytes it points at."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import partial

from fnhost import clock, errors
from fnhost.schemas.common import Identifier
from fnhost.schemas.files import FileCreate, FileFilter, FileRead
from fnhost.services import cursors, identifiers, projects
from fnhost.services.platform import Platform
from fnhost.store import datasets as datasets_store
from fnhost.store import files as files_store
from fnhost.store.datasets import DataSetRecord
from fnhost.store.engine import Tx
from fnhost.store.files import FileQuery, FileRecord


@dataclass(frozen=True)
class Download:
    """The bytes behind a download link, and what they are."""

    content: bytes
    media_type: str


def to_read(file: FileRecord, *, upload_url: str | None = None) -> FileRead:
    return FileRead.model_validate(
        {
            **file.attributes,
            "id": file.id,
            "name": file.name,
            "external_id": file.external_id,
            "uploaded": file.uploaded,
            "uploaded_time": file.uploaded_time,
            "created_time": file.created_time,
            "last_updated_time": file.last_updated_time,
            "upload_url": upload_url,
        }
    )


async def create(
    platform: Platform, *, project: str, body: FileCreate, overwrite: bool
) -> tuple[FileRead, str]:
    """Create (or, with `overwrite`, replace) a file entry; returns it and its upload key."""
    now = clock.now_ms()
    attributes = body.model_dump(exclude={"name", "external_id"}, exclude_none=True)
    upload_key = secrets.token_urlsafe(32)

    def unit(tx: Tx) -> FileRecord:
        existing = None
        if body.external_id is not None:
            existing = files_store.get_by_external_id(
                tx, project=project, external_id=body.external_id
            )
        if existing is not None and not overwrite:
            raise errors.Conflict(
                "A file with this externalId already exists",
                duplicated=[{"externalId": body.external_id}],
            )
        if existing is not None:
            # Same id, new metadata, new upload URL; the old bytes stay wherever a
            # function snapshot refers to them.
            return files_store.update_one(
                tx,
                file_id=existing.id,
                name=body.name,
                attributes=attributes,
                upload_key=upload_key,
                blob_digest=None,
                size=None,
                uploaded=False,
                uploaded_time=None,
                last_updated_time=now,
            )
        return files_store.insert_one(
            tx,
            project=project,
            external_id=body.external_id,
            name=body.name,
            attributes=attributes,
            upload_key=upload_key,
            uploaded=False,
            created_time=now,
            last_updated_time=now,
        )

    return to_read(await projects.write_in(platform, project, unit)), upload_key


async def upload(platform: Platform, *, upload_key: str, content: bytes) -> None:
    """Store the bytes behind an upload URL; the file is `uploaded` when this returns."""
    limit = platform.settings.builds.upload_max_bytes
    if len(content) > limit:
        raise errors.PayloadTooLarge(
            f"The upload is {len(content)} bytes; the limit is {limit} (FNHOST_UPLOAD_MAX_BYTES)"
        )
    by_key = partial(files_store.get_by_upload_key, upload_key=upload_key)
    if await platform.db.run_read(by_key) is None:  # checked first: a bad URL stores nothing
        raise errors.NotFound("Unknown or expired upload URL")
    digest = await platform.blobs.put(content)
    now = clock.now_ms()

    def unit(tx: Tx) -> None:
        file = by_key(tx)
        if file is None:  # replaced by an overwrite meanwhile
            raise errors.NotFound("Unknown or expired upload URL")
        files_store.update_one(
            tx,
            file_id=file.id,
            blob_digest=digest,
            size=len(content),
            uploaded=True,
            uploaded_time=now,
            last_updated_time=now,
        )

    await platform.db.run_write(unit)


def _found(
    tx: Tx, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[FileRecord]:
    ids, external_ids = identifiers.split(items)
    found = files_store.get_many(tx, project=project, ids=ids, external_ids=external_ids)
    return identifiers.match(items, found, ignore_unknown=ignore_unknown, what="Files")


async def retrieve(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> list[FileRead]:
    found = await platform.db.run_read(
        partial(_found, project=project, items=items, ignore_unknown=ignore_unknown)
    )
    return [to_read(file) for file in found]


async def delete(
    platform: Platform, *, project: str, items: list[Identifier], ignore_unknown: bool
) -> None:
    def unit(tx: Tx) -> None:
        found = _found(tx, project=project, items=items, ignore_unknown=ignore_unknown)
        files_store.delete_many(tx, project=project, ids=[file.id for file in found])

    await platform.db.run_write(unit)


def _query(tx: Tx, *, project: str, filter: FileFilter | None) -> FileQuery:
    """The store's query for `filter`; data sets named by externalId are looked up (unknown
    ones are a 400 naming them)."""
    if filter is None:
        return FileQuery()
    data_set_ids = None
    if filter.data_set_ids is not None:
        ids, external_ids = identifiers.split(filter.data_set_ids)
        found = datasets_store.get_many(tx, project=project, ids=ids, external_ids=external_ids)
        matched: list[DataSetRecord] = identifiers.match(
            filter.data_set_ids, found, ignore_unknown=False, what="Data sets"
        )
        data_set_ids = [dataset.id for dataset in matched]
    return FileQuery(
        name=filter.name,
        external_id_prefix=filter.external_id_prefix,
        directory_prefix=filter.directory_prefix,
        mime_type=filter.mime_type,
        source=filter.source,
        metadata=filter.metadata,
        data_set_ids=data_set_ids,
        uploaded=filter.uploaded,
        created_time=filter.created_time,
        last_updated_time=filter.last_updated_time,
        uploaded_time=filter.uploaded_time,
    )


async def list_files(
    platform: Platform, *, project: str, filter: FileFilter | None, limit: int, cursor: str | None
) -> tuple[list[FileRead], str | None]:
    after_id = cursors.decode(cursor)

    def read(tx: Tx) -> list[FileRecord]:
        query = _query(tx, project=project, filter=filter)
        return files_store.list_after(
            tx, project=project, query=query, after_id=after_id, limit=limit + 1
        )

    page, next_cursor = cursors.page(await platform.db.run_read(read), limit)
    return [to_read(file) for file in page], next_cursor


async def count(platform: Platform, *, project: str, filter: FileFilter | None) -> int:
    """POST /files/aggregate: how many files match `filter`."""

    def read(tx: Tx) -> int:
        return files_store.count(
            tx, project=project, query=_query(tx, project=project, filter=filter)
        )

    return await platform.db.run_read(read)


async def new_upload_keys(
    platform: Platform, *, project: str, items: list[Identifier]
) -> list[tuple[FileRead, str]]:
    """POST /files/uploadlink: a new upload URL for each named file, whose bytes the next upload
    replaces (earlier upload URLs stop working); each file with its new upload key."""
    now = clock.now_ms()

    def unit(tx: Tx) -> list[tuple[FileRecord, str]]:
        found = _found(tx, project=project, items=items, ignore_unknown=False)
        keyed = [(file, secrets.token_urlsafe(32)) for file in found]
        return [
            (
                files_store.update_one(tx, file_id=file.id, upload_key=key, last_updated_time=now),
                key,
            )
            for file, key in keyed
        ]

    return [(to_read(file), key) for file, key in await platform.db.run_write(unit)]


def download_token(file: FileRecord) -> str:
    """A capability for downloading `file`, derived from its secret upload key (not
    invertible)."""
    return hashlib.sha256(f"download:{file.upload_key}".encode()).hexdigest()


async def download_links(
    platform: Platform, *, project: str, items: list[Identifier]
) -> list[tuple[int, str]]:
    """(file id, download token) for each named file; unknown ones are a 400 + missing."""
    found = await platform.db.run_read(
        partial(_found, project=project, items=items, ignore_unknown=False)
    )
    return [(file.id, download_token(file)) for file in found]


async def download(platform: Platform, *, file_id: int, token: str) -> Download:
    """The bytes behind a download link."""
    file = await platform.db.run_read(partial(files_store.get_by_id, file_id=file_id))
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link is any text.
    if file is None or not hmac.compare_digest(download_token(file).encode(), token.encode()):
        raise errors.NotFound("Unknown or expired download link")
    if file.blob_digest is None:
        raise errors.InvalidInput(f"File {file_id} has no content yet: upload it first")
    content = await platform.blobs.get(file.blob_digest)
    media_type = file.attributes.get("mime_type") or "application/octet-stream"
    return Download(content, media_type)
