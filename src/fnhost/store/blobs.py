"""Blobs and multipart parts in the database, where it is shared (PostgreSQL): the `Blobs` of a
scaled-out deployment, whose replicas and dispatchers share no disk."""

from functools import partial

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql

from fnhost import clock
from fnhost.blobs import (
    BlobNotFound,
    FileBlobs,
    PartsMissing,
    PartsTooLarge,
    check_digest,
    digest_of,
)
from fnhost.store.engine import Database, Tx
from fnhost.store.tables import Blob, UploadPart, table_of

BLOBS = table_of(Blob)
PARTS = table_of(UploadPart)

_PUT = (
    postgresql.insert(BLOBS)
    .values(
        digest=bindparam("digest"),
        content=bindparam("content"),
        created_time=bindparam("created_time"),
    )
    .on_conflict_do_nothing(index_elements=["digest"])
)
_GET = select(BLOBS.c.content).where(BLOBS.c.digest == bindparam("digest"))
_OF_UPLOAD = PARTS.c.upload_key == bindparam("upload_key")


def put(tx: Tx, *, digest: str, content: bytes, now: int) -> None:
    tx.execute(_PUT, {"digest": digest, "content": content, "created_time": now})


def get(tx: Tx, *, digest: str) -> bytes | None:
    content: bytes | None = tx.execute(_GET, {"digest": digest}).scalar_one_or_none()
    return content


def put_part(tx: Tx, *, upload_key: str, part: int, content: bytes, limit: int) -> None:
    """Stage one part (replacing an earlier one); PartsTooLarge past `limit` with the others."""
    others = select(func.coalesce(func.sum(func.length(PARTS.c.content)), 0)).where(
        _OF_UPLOAD, PARTS.c.part != part
    )
    total = int(tx.execute(others, {"upload_key": upload_key}).scalar_one()) + len(content)
    if total > limit:
        raise PartsTooLarge(total)
    statement = postgresql.insert(PARTS).values(upload_key=upload_key, part=part, content=content)
    statement = statement.on_conflict_do_update(
        index_elements=["upload_key", "part"], set_={"content": statement.excluded.content}
    )
    tx.execute(statement)


def parts(tx: Tx, *, upload_key: str, count: int) -> list[bytes]:
    """Parts 0 to `count` - 1 of an upload, in order; PartsMissing names those not staged."""
    query = select(PARTS.c.part, PARTS.c.content).where(_OF_UPLOAD, PARTS.c.part < count)
    staged = dict(tx.execute(query.order_by(PARTS.c.part), {"upload_key": upload_key}).all())
    missing = [n for n in range(count) if n not in staged]
    if missing:
        raise PartsMissing(missing)
    return [staged[n] for n in range(count)]


def drop_parts(tx: Tx, *, upload_key: str) -> None:
    tx.execute(delete(PARTS).where(_OF_UPLOAD), {"upload_key": upload_key})


class DatabaseBlobs:
    """`Blobs` in the database's tables. Blobs an earlier version stored in the data directory
    (`earlier`) are still read from there."""

    def __init__(self, db: Database, *, earlier: FileBlobs | None = None) -> None:
        self._db = db
        self._earlier = earlier

    async def put(self, content: bytes) -> str:
        digest = await digest_of(content)
        await self._db.run_write(partial(put, digest=digest, content=content, now=clock.now_ms()))
        return digest

    async def get(self, digest: str) -> bytes:
        content = await self._db.run_read(partial(get, digest=check_digest(digest)))
        if content is not None:
            return content
        if self._earlier is None:
            raise BlobNotFound(digest)
        return await self._earlier.get(digest)

    async def put_part(self, upload_key: str, part: int, content: bytes, *, limit: int) -> None:
        unit = partial(put_part, upload_key=upload_key, part=part, content=content, limit=limit)
        await self._db.run_write(unit)

    async def joined(self, upload_key: str, count: int) -> bytes:
        staged = await self._db.run_read(partial(parts, upload_key=upload_key, count=count))
        return b"".join(staged)

    async def drop_parts(self, upload_key: str) -> None:
        await self._db.run_write(partial(drop_parts, upload_key=upload_key))
