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


class LayerCache:
    """Gzipped JSON files under ``<cache dir>/layers``; corrupt entries count as misses."""

    def __init__(self, root: Path) -> None:
        self.root = root / "layers"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json.gz"

    def get(self, key: str) -> LayerResult | None:
        """The cached result, or None when absent or unreadable."""
        path = self._path(key)
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
