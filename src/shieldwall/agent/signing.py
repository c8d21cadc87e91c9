"""The agent's identity and the signed-request wire format shared by the agent and the manager.

An agent holds one Ed25519 key pair (its private key never leaves the state
directory). Every request after enrollment carries four headers:

``X-Shieldwall-Agent``      the agent ID the manager issued
``X-Shieldwall-Timestamp``  Unix seconds when the request was signed
``X-Shieldwall-Nonce``      32 random hex digits, never reused
``X-Shieldwall-Signature``  base64 Ed25519 signature of ``signing_message``

The signed message binds the method, the path with its query, the timestamp,
the nonce and the SHA-256 of the body, so a request cannot be altered,
replayed later (timestamp window) or replayed inside the window (nonce cache).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shieldwall.errors import ShieldwallError

HEADER_AGENT = "X-Shieldwall-Agent"
HEADER_TIMESTAMP = "X-Shieldwall-Timestamp"
HEADER_NONCE = "X-Shieldwall-Nonce"
HEADER_SIGNATURE = "X-Shieldwall-Signature"
PROTOCOL = "shieldwall-agent-v1"
NONCE_HEX_DIGITS = 32


class SigningError(ShieldwallError):
    """A key could not be read or a signature could not be checked."""


def signing_message(method: str, path_query: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes both sides sign and verify."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{PROTOCOL}\n{method.upper()}\n{path_query}\n{timestamp}\n{nonce}\n{digest}".encode()


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64 (what enrollment and rotation send)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from ``public_key_text`` output; ``SigningError`` when malformed."""
    try:
        raw = base64.b64decode(text.encode(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not an Ed25519 public key: {exc}") from None


def key_fingerprint(text: str) -> str:
    """A short, stable name of a public key (for logs and the API; never the key itself)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def verify_signature(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    """True when ``signature_b64`` is a valid signature of ``message``."""
    try:
        signature = base64.b64decode(signature_b64.encode(), validate=True)
    except (ValueError, TypeError):
        return False
    if len(signature) != 64:
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class AgentKey:
    """An agent's private key and the file it lives in."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public_text(self) -> str:
        """The public half, base64."""
        return public_key_text(self.private.public_key())

    def sign_headers(
        self, agent_id: str, method: str, path_query: str, body: bytes, now: float | None = None
    ) -> dict[str, str]:
        """The four authentication headers for one request."""
        timestamp = int(time.time() if now is None else now)
        nonce = secrets.token_hex(NONCE_HEX_DIGITS // 2)
        signature = self.private.sign(signing_message(method, path_query, timestamp, nonce, body))
        return {
            HEADER_AGENT: agent_id,
            HEADER_TIMESTAMP: str(timestamp),
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: base64.b64encode(signature).decode(),
        }


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create_key(path: Path) -> AgentKey:
    """The agent's key at ``path``, generated (mode 0600) on first start."""
    if not path.exists():
        _write_private(path, Ed25519PrivateKey.generate())
    return load_key(path)


def load_key(path: Path) -> AgentKey:
    """Read a private key; refuse one other users can read."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SigningError(f"{path}: private key readable by others (mode {mode:o}); chmod 600 it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 key")
    return AgentKey(key, path)


def rotate_key(path: Path) -> AgentKey:
    """Generate a new key pair into ``<path>.next`` (promoted by ``promote_key`` once the manager has it)."""
    nxt = path.with_name(path.name + ".next")
    _write_private(nxt, Ed25519PrivateKey.generate())
    return load_key(nxt)


def promote_key(path: Path) -> AgentKey:
    """Make ``<path>.next`` the current key."""
    nxt = path.with_name(path.name + ".next")
    os.replace(nxt, path)
    return load_key(path)
