"""The secret key (from settings, or generated once into var/secret_key) and token encryption."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


def load_or_create_secret(path: Path) -> str:
    """A stable random secret for a laptop install, kept with mode 0600 beside the database."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


class TokenCipher:
    """Encrypts tokens at rest with a key derived from the secret key."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"derm-rcm token encryption\x00" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, value: str) -> str | None:
        """None when the value was encrypted with another key (e.g. the secret changed)."""
        try:
            return self._fernet.decrypt(value.encode("ascii")).decode()
        except InvalidToken:
            return None
