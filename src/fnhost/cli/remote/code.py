"""A function's folder as the code zip the server builds from."""

import io
import os
import zipfile
from pathlib import Path

SKIPPED_DIRECTORIES = {"__pycache__"}


def zip_folder(folder: Path) -> bytes:
    """The folder's files, at paths relative to it (as the SDK zips a folder), without
    `__pycache__` (bytecode of the local interpreter, rebuilt by the function's own)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for root, directories, files in os.walk(folder):
            directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES)
            for name in sorted(files):
                path = Path(root, name)
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
