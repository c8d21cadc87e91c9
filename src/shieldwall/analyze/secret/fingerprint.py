"""Never keep a whole secret: a redacted form for people, a keyed fingerprint for machines.

The fingerprint is an HMAC-SHA256 of the secret under a per-installation key
(``<data dir>/secret-fingerprint.key``, created with mode 0600 on first
use), so a baseline or a cached result cannot be used to confirm a guessed
secret offline. Two machines that must share a baseline (a laptop and CI)
share that key file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from shieldwall.errors import ConfigError

KEY_FILE = "secret-fingerprint.key"
KEY_BYTES = 32
_PEM_HEADERS = (b"-----BEGIN ", b"---- BEGIN ", b"PuTTY-User-Key-File-")


def load_or_create_key(directory: Path, name: str = KEY_FILE) -> bytes:
    """The key file ``name`` in ``directory`` (the secret fingerprint key by default), created 0600 when absent."""
    path = directory / name
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            key = path.read_bytes()
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    except OSError as exc:
        raise ConfigError(f"cannot read the secret fingerprint key {path}: {exc}") from exc
    if len(key) < 16:
        raise ConfigError(f"secret fingerprint key {path} is shorter than 16 bytes")
    return key


class Fingerprinter:
    """Keyed HMAC-SHA256 of secrets; ``key_id`` names the key without revealing it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("fingerprint key must be at least 16 bytes")
        self._key = key
        self.key_id = hashlib.sha256(b"shieldwall-key-id\x00" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Fingerprinter(key_id={self.key_id})"

    def __call__(self, secret: bytes) -> str:
        """Hex HMAC-SHA256 of ``secret``."""
        return hmac.new(self._key, secret, hashlib.sha256).hexdigest()


def redact(secret: bytes) -> str:
    """A form safe to print: a short prefix, ``****`` and the length.

    PEM-style blocks show their header line (the key type, not the key);
    other secrets show at most 4 characters, fewer for short ones.
    """
    length = len(secret)
    if secret.startswith(_PEM_HEADERS):
        header = secret.split(b"\n", 1)[0].split(b"\\n", 1)[0].rstrip(b"\r")
        return f"{header.decode('ascii', errors='replace')}****({length} chars)"
    text = secret.decode("utf-8", errors="replace")
    shown = 4 if len(text) >= 16 else 2 if len(text) >= 8 else 0
    return f"{text[:shown]}****({length} chars)"
