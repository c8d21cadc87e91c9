"""Which stored layer blobs were seen to decompress to which diff ID, authenticated.

A cached layer result is keyed by the layer's diff ID, which the image's own
config claims. Trusting that claim would let an image reuse a clean layer's
diff ID for malicious content and scan clean. So a cached result is used only
when the bytes the image actually ships are known to produce that diff ID:

- an uncompressed layer whose SHA-256 *is* the diff ID, or
- a (blob digest, diff ID) pair recorded here after a full read verified it.

Records are marker files named by a keyed HMAC of the pair, with the key kept
outside the cache directory (the configuration directory, 0600): whoever can
write the cache (a restored CI cache, another user) cannot forge a record
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from shieldwall.analyze.secret.fingerprint import load_or_create_key

KEY_FILE = "layer-cache.key"


class VerifiedLayers:
    """Authenticated (blob digest -> diff ID) records under ``<cache dir>/verified``."""

    def __init__(self, cache_root: Path, key_dir: Path) -> None:
        self.root = cache_root / "verified"
        self._key = load_or_create_key(key_dir, KEY_FILE)

    def _name(self, blob_digest: str, diff_id: str) -> Path:
        mac = hmac.new(self._key, f"{blob_digest}\x00{diff_id}".encode(), hashlib.sha256).hexdigest()
        return self.root / mac[:2] / mac

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        """True when ``blob_digest`` is the diff ID itself or a recorded, verified pair."""
        if not blob_digest or not diff_id:
            return False
        if blob_digest == diff_id:
            return True
        return self._name(blob_digest, diff_id).is_file()

    def record(self, blob_digest: str, diff_id: str) -> None:
        """Remember that a full read of ``blob_digest`` produced ``diff_id`` (idempotent)."""
        if not blob_digest or not diff_id or blob_digest == diff_id:
            return
        path = self._name(blob_digest, diff_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
