"""A layer blob read from an archive or registry: decompressed, bounded, verified."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from shieldwall.errors import CorruptInputError
from shieldwall.model import LayerRef
from shieldwall.target.entries import Entry, walk_tar_stream
from shieldwall.target.limits import Limits
from shieldwall.target.streams import open_layer


class BlobLayer:
    """One layer whose bytes come from ``opener``; checks digests once fully read.

    ``blob_digest`` (the compressed digest from a manifest) and the diff ID in
    ``ref.digest`` are both verified when known; a mismatch fails the target.
    """

    def __init__(
        self,
        ref: LayerRef,
        opener: Callable[[], BinaryIO],
        limits: Limits,
        *,
        blob_digest: str = "",
        label: str = "",
    ) -> None:
        self.ref = ref
        self.cache_key = ref.digest
        self._opener = opener
        self._limits = limits
        self._blob_digest = blob_digest
        self._label = label or f"layer {ref.index} ({ref.digest[:19]})"

    def walk(self) -> Iterator[Entry]:
        """Stream the layer's members, then verify what was read."""
        raw = self._opener()
        try:
            verify_blob = self._blob_digest.startswith("sha256:")
            stream, compressed = open_layer(raw, self._limits, self._label, hash_compressed=verify_blob)
            buffered = io.BufferedReader(stream, buffer_size=1 << 20)
            yield from walk_tar_stream(buffered, self._limits, self._label)
            while stream.read(1 << 20):
                pass
            if verify_blob:
                compressed.drain()
        finally:
            raw.close()
        if self.ref.digest and stream.digest() != self.ref.digest:
            raise CorruptInputError(
                f"{self._label}: diff ID mismatch (config says {self.ref.digest}, content is {stream.digest()})"
            )
        if self._blob_digest.startswith("sha256:") and "sha256:" + compressed.hexdigest() != self._blob_digest:
            raise CorruptInputError(f"{self._label}: blob digest mismatch (manifest says {self._blob_digest})")
