"""Safe extraction of a code zip: no path outside the target, no links, bounded size and count."""

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from fnhost.builder.errors import BuildFailed


def _member_path(name: str) -> PurePosixPath | None:
    """The relative path of a zip entry, None for entries to skip (`./`), or BuildFailed."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    parts = [part for part in path.parts if part not in ("", ".")]
    if normalized.startswith("/") or ".." in parts:
        raise BuildFailed(f"The code zip has an entry outside its root: {name!r}")
    return PurePosixPath(*parts) if parts else None


def unpack(content: bytes, target: Path, *, max_bytes: int, max_files: int) -> None:
    """Extract the zip `content` into `target` (which must not exist yet)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as error:
        raise BuildFailed(f"The code file is not a valid zip archive: {error}") from None
    with archive:
        members = archive.infolist()
        if len(members) > max_files:
            raise BuildFailed(
                f"The code zip has {len(members)} entries; the limit is {max_files} "
                "(FNHOST_CODE_MAX_FILES)"
            )
        declared = sum(member.file_size for member in members)
        if declared > max_bytes:
            raise BuildFailed(
                f"The code zip unpacks to {declared} bytes; the limit is {max_bytes} "
                "(FNHOST_CODE_MAX_UNPACKED_BYTES)"
            )
        target.mkdir(parents=True)
        written = 0
        for member in members:
            relative = _member_path(member.filename)
            if relative is None:
                continue
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise BuildFailed(f"The code zip contains a symbolic link: {member.filename!r}")
            destination = target / relative
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as out:
                # Count real bytes: a zip can lie about sizes in its directory.
                while chunk := source.read(1024 * 1024):
                    written += len(chunk)
                    if written > max_bytes:
                        raise BuildFailed(
                            f"The code zip unpacks to more than {max_bytes} bytes "
                            "(FNHOST_CODE_MAX_UNPACKED_BYTES)"
                        )
                    out.write(chunk)
