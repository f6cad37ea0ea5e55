"""Deploying from an upload (the console's form): a code zip, or a single handler.py packed
into one, stored as a file and deployed like the SDK does, in one step."""

import io
import zipfile
from typing import Any

from fnhost import errors
from fnhost.schemas.common import Identifier, parse
from fnhost.schemas.files import FileCreate
from fnhost.schemas.functions import FunctionCreate, FunctionRead
from fnhost.services import files as files_service
from fnhost.services import functions as functions_service
from fnhost.services.platform import Platform

HANDLER = "handler.py"
# Checks the fields before anything is stored; the real file id is known only after.
_STAND_IN_FILE_ID = 1


def code_zip(filename: str, content: bytes) -> bytes:
    """The code zip of an upload: a zip as it is, a `.py` file as the zip's handler.py."""
    lowered = filename.lower()
    if lowered.endswith(".zip"):
        if not zipfile.is_zipfile(io.BytesIO(content)):
            raise errors.InvalidInput(f"{filename} is not a valid zip archive")
        return content
    if lowered.endswith(".py"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(HANDLER, content)
        return buffer.getvalue()
    raise errors.InvalidInput(
        f"{filename or 'The upload'} is neither a .zip of the function's folder nor a .py "
        "file: upload one of those"
    )


def _spec(fields: dict[str, Any], file_id: int) -> FunctionCreate:
    return parse(FunctionCreate, {**fields, "fileId": file_id})


async def deploy(
    platform: Platform, *, project: str, filename: str, content: bytes, fields: dict[str, Any]
) -> FunctionRead:
    """Store the upload as a file and create the function from it (`fields`: the wire fields
    of a function but `fileId`). Bad fields or a bad upload change nothing."""
    _spec(fields, _STAND_IN_FILE_ID)
    if not content:
        raise errors.InvalidInput("The upload is empty: choose a .zip or a handler.py")
    limit = platform.settings.builds.upload_max_bytes
    if len(content) > limit:
        raise errors.PayloadTooLarge(
            f"{filename} is larger than {limit} bytes, the largest upload (FNHOST_UPLOAD_MAX_BYTES)"
        )
    packed = code_zip(filename, content)
    file, upload_key = await files_service.create(
        platform,
        project=project,
        body=FileCreate(name=(filename or HANDLER)[:256]),
        overwrite=False,
    )
    try:
        await files_service.upload(platform, upload_key=upload_key, content=packed)
        return await functions_service.create(
            platform, project=project, body=_spec(fields, file.id)
        )
    except errors.FnhostError:
        await files_service.delete(
            platform, project=project, items=[Identifier(id=file.id)], ignore_unknown=True
        )
        raise
