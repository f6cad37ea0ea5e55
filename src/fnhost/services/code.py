"""A deployed function's code as people read it: the files of the code zip snapshotted at
deploy (from the blob store), with its handler and requirements.txt."""

import asyncio
import io
import zipfile
from dataclasses import dataclass
from functools import partial

from fnhost import errors
from fnhost.services.platform import Platform
from fnhost.store import catalog as catalog_store

REQUIREMENTS = "requirements.txt"


@dataclass(frozen=True)
class CodeFile:
    path: str
    size: int


@dataclass(frozen=True)
class ShownFile:
    """A text file of the code, cut at the console's limit when longer (`truncated`)."""

    path: str
    text: str
    truncated: bool


@dataclass(frozen=True)
class Code:
    """The code zip's files; the handler and requirements when present; or why it is
    unreadable (`problem`)."""

    files: list[CodeFile]
    handler: ShownFile | None
    requirements: ShownFile | None
    problem: str | None = None


def _root(names: set[str], function_path: str) -> str:
    """The folder of the zip holding `function_path`: its root, or its only top-level folder
    (zipping the folder instead of its contents), as the builder accepts it."""
    if function_path in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("__MACOSX/")}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/{function_path}" in names:
            return top + "/"
    return ""


def _show(archive: zipfile.ZipFile, name: str, *, max_bytes: int) -> ShownFile:
    with archive.open(name) as source:
        content = source.read(max_bytes + 1)
    return ShownFile(
        path=name,
        text=content[:max_bytes].decode(errors="replace"),
        truncated=len(content) > max_bytes,
    )


def _read_zip(content: bytes, *, function_path: str, max_files: int, max_bytes: int) -> Code:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as error:
        return Code([], None, None, problem=f"The code file is not a valid zip archive: {error}")
    with archive:
        members = [m for m in archive.infolist()[:max_files] if not m.is_dir()]
        files = [CodeFile(m.filename, m.file_size) for m in members]
        names = {m.filename for m in members}
        root = _root(names, function_path)
        handler = root + function_path
        requirements = root + REQUIREMENTS
        return Code(
            files=files,
            handler=_show(archive, handler, max_bytes=max_bytes) if handler in names else None,
            requirements=(
                _show(archive, requirements, max_bytes=max_bytes) if requirements in names else None
            ),
        )


async def read(platform: Platform, *, project: str, function_id: int, function_path: str) -> Code:
    """The code the function was deployed with."""
    digest = await platform.db.run_read(
        partial(catalog_store.code_digest, project=project, function_id=function_id)
    )
    if digest is None:
        raise errors.NotFound("Function not found", missing=[{"id": function_id}])
    content = await platform.blobs.get(digest)
    return await asyncio.to_thread(
        _read_zip,
        content,
        function_path=function_path,
        max_files=platform.settings.builds.code_max_files,
        max_bytes=platform.settings.console.console_code_view_max_bytes,
    )
