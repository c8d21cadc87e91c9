"""Layer results on disk, keyed by layer diff ID plus the versions of the analyzers that ran."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from shieldwall.analyze.runner import LayerResult
from shieldwall.model.serialize import converter

CACHE_FORMAT = 1


def cache_key(diff_id: str, analyzer_versions: Sequence[tuple[str, int]]) -> str:
    """Key that changes when the layer or any analyzer that ran on it changes."""
    material = json.dumps([CACHE_FORMAT, diff_id, list(analyzer_versions)])
    return hashlib.sha256(material.encode()).hexdigest()


class LayerCache:
    """Gzipped JSON files under ``<cache dir>/layers``; corrupt entries count as misses."""

    def __init__(self, root: Path) -> None:
        self.root = root / "layers"

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
