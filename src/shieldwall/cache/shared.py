"""The per-layer result cache shared by every worker through Redis, authenticated with a keyed HMAC.

An entry is ``MAGIC || HMAC-SHA256(key, domain || cache key || payload) || payload``
where the payload is the gzipped JSON of a ``LayerResult``. The MAC covers the
cache key, so an authentic entry cannot be replayed under another layer's key;
a worker (or anyone who can write to Redis) without the HMAC key cannot forge
one. ``get`` verifies before it parses: a bad or missing MAC is a miss with a
warning (and a counter), never a result.

``exclusive(key)`` is a Redis lock per cache key (layer digest + analyzer
versions) with a TTL that a background thread renews while the holder
analyses, so a thousand images on one base image analyse that base once: the
first worker holds the lock, the others wait and then read its entry. A
holder that dies stops renewing; its lock expires after the TTL and a waiter
takes over. A waiter that waits longer than ``wait_seconds`` analyses the
layer itself (a result is never skipped because of a lock).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import redis
from redis.exceptions import LockError, RedisError

from shieldwall.analyze.runner import LayerResult
from shieldwall.errors import ConfigError
from shieldwall.model.serialize import converter

log = logging.getLogger("shieldwall.cache")

MAGIC = b"SWLC1"
DOMAIN = b"shieldwall-layer-cache-v1\x00"
MAC_SIZE = 32
MAX_ENTRY_BYTES = 64 * 1024 * 1024
MIN_KEY_BYTES = 16
PREFIX = "shieldwall:layer:"
LOCK_PREFIX = "shieldwall:layer-lock:"
VERIFIED_PREFIX = "shieldwall:layer-verified:"
QUEUED_PREFIX = "shieldwall:layer-queued:"
STATS_KEY = "shieldwall:layer-cache:stats"


def entry_mac(secret: bytes, key: str, payload: bytes) -> bytes:
    """The MAC of one entry: over the domain, the cache key and the payload."""
    return hmac.new(secret, DOMAIN + key.encode() + b"\x00" + payload, hashlib.sha256).digest()


def seal(secret: bytes, key: str, result: LayerResult) -> bytes:
    """The bytes stored for ``result`` under ``key``."""
    payload = gzip.compress(json.dumps(converter.unstructure(result), separators=(",", ":")).encode(), 5)
    return MAGIC + entry_mac(secret, key, payload) + payload


def unseal(secret: bytes, key: str, blob: bytes) -> LayerResult | None:
    """The result in ``blob`` when its MAC verifies under ``key``; None otherwise."""
    if len(blob) > MAX_ENTRY_BYTES or not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + MAC_SIZE:
        return None
    mac = blob[len(MAGIC) : len(MAGIC) + MAC_SIZE]
    payload = blob[len(MAGIC) + MAC_SIZE :]
    if not hmac.compare_digest(mac, entry_mac(secret, key, payload)):
        return None
    raw = json.loads(gzip.decompress(payload))
    return converter.structure(raw, LayerResult)


class SharedLayerCache:
    """``LayerResultCache`` over Redis: authenticated entries, one analysis per layer across the fleet."""

    def __init__(
        self,
        client: redis.Redis,
        secret: bytes,
        *,
        ttl_seconds: int = 30 * 24 * 3600,
        lock_ttl: float = 60.0,
        wait_seconds: float = 900.0,
    ) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ConfigError(f"the layer-cache HMAC key must have at least {MIN_KEY_BYTES} bytes")
        self._client = client
        self._secret = secret
        self._ttl = ttl_seconds
        self._lock_ttl = lock_ttl
        self._wait = wait_seconds

    def _count(self, field: str) -> None:
        with contextlib.suppress(RedisError):
            self._client.hincrby(STATS_KEY, field, 1)

    def get(self, key: str) -> LayerResult | None:
        """The verified entry, or None (absent, Redis unreachable, or a bad MAC: logged as a warning)."""
        try:
            blob: Any = self._client.get(PREFIX + key)
        except RedisError as exc:
            log.warning("shared layer cache unreachable: %s", exc)
            return None
        if blob is None:
            self._count("misses")
            return None
        try:
            result = unseal(self._secret, key, bytes(blob))
        except (ValueError, TypeError, KeyError, EOFError, OSError, Exception) as exc:
            log.warning("shared layer cache entry %s…: authentic but unreadable (%s); treated as a miss", key[:12], exc)
            result = None
        if result is None:
            log.warning("shared layer cache entry %s… failed its integrity check; treated as a miss", key[:12])
            self._count("bad_mac")
            return None
        self._count("hits")
        return result

    def put(self, key: str, result: LayerResult) -> None:
        """Store an authenticated entry (a Redis error is logged: the next scan analyses again)."""
        try:
            self._client.set(PREFIX + key, seal(self._secret, key, result), ex=self._ttl)
            self._count("puts")
        except RedisError as exc:
            log.warning("shared layer cache write failed: %s", exc)

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """Hold the per-layer lock (renewed while held) for the analysis of ``key``."""
        return self._locked(key)

    @contextlib.contextmanager
    def try_exclusive(self, key: str) -> Iterator[bool]:
        """Take the per-layer lock only if it is free: yields True (held, renewed) or False (another has it)."""
        lock = self._client.lock(LOCK_PREFIX + key, timeout=self._lock_ttl, thread_local=False)
        try:
            acquired = bool(lock.acquire(blocking=False))
        except RedisError as exc:
            log.warning("layer lock unavailable (%s): analysing without it", exc)
            yield True
            return
        if not acquired:
            yield False
            return
        with self._renewing(lock):
            yield True

    def mark_queued(self, key: str, ttl_seconds: int = 600) -> bool:
        """True the first time a layer task is queued for ``key`` within ``ttl_seconds`` (fan-out dedupe)."""
        try:
            return bool(self._client.set(QUEUED_PREFIX + key, b"1", nx=True, ex=ttl_seconds))
        except RedisError as exc:
            log.warning("shared layer cache unreachable: %s", exc)
            return False

    def _verified_key(self, blob_digest: str, diff_id: str) -> str:
        mac = hmac.new(self._secret, b"verified\x00" + f"{blob_digest}\x00{diff_id}".encode(), hashlib.sha256)
        return VERIFIED_PREFIX + mac.hexdigest()

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        """Whether a worker holding the key recorded that these bytes are this diff ID (or they are it)."""
        if not blob_digest or not diff_id:
            return False
        if blob_digest == diff_id:
            return True
        try:
            return bool(self._client.exists(self._verified_key(blob_digest, diff_id)))
        except RedisError as exc:
            log.warning("shared layer cache unreachable: %s", exc)
            return False

    def record_verified(self, blob_digest: str, diff_id: str) -> None:
        """Record a verified read under a name only key holders can compute."""
        if not blob_digest or not diff_id or blob_digest == diff_id:
            return
        try:
            self._client.set(self._verified_key(blob_digest, diff_id), b"1", ex=self._ttl)
        except RedisError as exc:
            log.warning("shared layer cache write failed: %s", exc)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock = self._client.lock(
            LOCK_PREFIX + key, timeout=self._lock_ttl, blocking_timeout=self._wait, sleep=0.05, thread_local=False
        )
        try:
            acquired = bool(lock.acquire())
        except RedisError as exc:
            log.warning("layer lock unavailable (%s): analysing without it", exc)
            acquired = False
        if not acquired:
            yield
            return
        with self._renewing(lock):
            yield

    @contextlib.contextmanager
    def _renewing(self, lock: Any) -> Iterator[None]:
        """Keep a held lock alive until the block ends, then release it."""
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(lock, stop), name="layer-lock-renew", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            with contextlib.suppress(LockError, RedisError):
                lock.release()

    def _renew(self, lock: Any, stop: threading.Event) -> None:
        while not stop.wait(self._lock_ttl / 3):
            try:
                lock.extend(self._lock_ttl, replace_ttl=True)
            except (LockError, RedisError) as exc:
                log.warning("layer lock renewal failed: %s", exc)
                return


def cache_stats(client: redis.Redis) -> dict[str, int]:
    """Hits, misses, puts and bad MACs counted by every worker."""
    raw: Any = client.hgetall(STATS_KEY)
    return {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in dict(raw).items()}
