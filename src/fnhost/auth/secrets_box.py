"""Function secrets, sealed at rest with a key that never leaves the server."""

import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretsUnreadable(Exception):
    """Sealed secrets this server's key cannot open."""


class SecretsBox:
    """Seals and opens a function's secrets (a str->str map) with Fernet (AES + HMAC)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        # A separate key for signing call tokens, derived so one key file serves both.
        self.signing_key = hmac.new(key, b"fnhost call tokens", hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, key: str | None, key_file: Path) -> "SecretsBox":
        """The configured key, or else the data directory's key file."""
        return cls(key.encode()) if key else cls.from_key_file(key_file)

    @classmethod
    def from_key_file(cls, path: Path) -> "SecretsBox":
        """Load the key at `path`, creating it (mode 0600) on first use."""
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, secrets: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        try:
            plain = self._fernet.decrypt(sealed.encode())
        except InvalidToken:
            raise SecretsUnreadable(
                "the function's secrets were sealed with another key than this server's "
                "(FNHOST_SECRET_KEY, or secret.key in the data directory); deploy it again"
            ) from None
        opened: dict[str, str] = json.loads(plain)
        return opened
