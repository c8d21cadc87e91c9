"""Layer results on disk, keyed by layer diff ID plus the versions of the analyzers that ran."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from shieldwall.analyze.runner import LayerResult
from shieldwall.cache.verified import VerifiedLayers
from shieldwall.model.serialize import converter

CACHE_FORMAT = 1


def cache_key(diff_id: str, analyzer_versions: Sequence[tuple[str, int]]) -> str:
    """Key that changes when the layer or any analyzer that ran on it changes."""
    material = json.dumps([CACHE_FORMAT, diff_id, list(analyzer_versions)])
    return hashlib.sha256(material.encode()).hexdigest()


class LayerResultCache(Protocol):
    """What the scan needs of a layer cache: read, write, and hold a layer while analysing it."""

    def get(self, key: str) -> LayerResult | None:
        """The cached result, or None (absent, unreadable or not authentic)."""

    def put(self, key: str, result: LayerResult) -> None:
        """Store a result."""

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """Hold ``key`` so that one process analyses a layer while the others wait for its result."""

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        """True when ``blob_digest`` is known (authentically) to decompress to ``diff_id`` (or is it)."""

    def record_verified(self, blob_digest: str, diff_id: str) -> None:
        """Remember that a full, verified read of ``blob_digest`` produced ``diff_id``."""


class LayerCache:
    """Gzipped JSON files under ``<cache dir>/layers``; corrupt entries count as misses."""

    def __init__(self, root: Path, key_dir: Path | None = None) -> None:
        self.root = root / "layers"
        self._cache_root = root
        self._key_dir = key_dir
        self._verified: VerifiedLayers | None = None

    def _records(self) -> VerifiedLayers:
        if self._verified is None:
            from shieldwall import paths

            self._verified = VerifiedLayers(self._cache_root, self._key_dir or paths.config_dir())
        return self._verified

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        """Whether an HMAC-authenticated record (key outside the cache) binds these bytes to this diff ID."""
        return self._records().is_verified(blob_digest, diff_id)

    def record_verified(self, blob_digest: str, diff_id: str) -> None:
        """Record a verified read (see ``cache/verified.py``)."""
        self._records().record(blob_digest, diff_id)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json.gz"

    def _inside(self, path: Path) -> bool:
        """False when a symbolic link under the cache root leads out of it (never written or read)."""
        try:
            root = self.root.resolve()
            return path.parent.resolve().is_relative_to(root) and (
                not path.is_symlink() or path.resolve().is_relative_to(root)
            )
        except (OSError, RuntimeError):
            return False

    def get(self, key: str) -> LayerResult | None:
        """The cached result, or None when absent or unreadable."""
        path = self._path(key)
        if not self._inside(path):
            return None
        try:
            with gzip.open(path, "rb") as handle:
                raw = json.loads(handle.read())
            return converter.structure(raw, LayerResult)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, EOFError, Exception):
            return None

    def put(self, key: str, result: LayerResult) -> None:
        """Store atomically (write to a temp file, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self._inside(path):
            return  # a link planted in the cache must not make Shieldwall write elsewhere: not cached
        data = gzip.compress(json.dumps(converter.unstructure(result), separators=(",", ":")).encode(), 5)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        """Nothing to hold: one process's cache directory (the shared cache locks across processes)."""
        return contextlib.nullcontext()
