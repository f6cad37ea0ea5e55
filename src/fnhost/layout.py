"""Where everything lives inside the data directory."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "fnhost.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin-token"

    @property
    def secret_key(self) -> Path:
        return self.root / "secret.key"

    @property
    def functions(self) -> Path:
        return self.root / "functions"

    def code(self, function_id: int) -> Path:
        """The unpacked code of one function (read-only once built)."""
        return self.functions / str(function_id) / "code"

    @property
    def environments(self) -> Path:
        return self.root / "environments"

    @property
    def work(self) -> Path:
        """Scratch space: per-call temporary directories, builds in progress."""
        return self.root / "work"

    @property
    def upload_parts(self) -> Path:
        """The parts of multipart uploads in progress, a folder per upload."""
        return self.work / "uploads"
