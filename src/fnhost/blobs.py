"""Content-addressed storage for code zips: one file per SHA-256 digest under the data directory.

Content addressing is what makes a deployed function's code a snapshot: a later upload to
the same Files entry stores a new digest and never touches the one a function points at.
"""

import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    """Immutable blobs keyed by their SHA-256 digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, content: bytes) -> str:
        """Store `content` (idempotently) and return its digest."""
        digest = hashlib.sha256(content).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(exist_ok=True, mode=0o700)
        # Write beside the target and rename, so a reader never sees a partial blob.
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()
