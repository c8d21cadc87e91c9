"""A layer blob read from an archive or registry: decompressed, bounded, verified."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from shieldwall.errors import CorruptInputError, FileTooLargeError
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
        content_addressed: bool = False,
        blob_key: str = "",
        read_order: int = 0,
        portable: Callable[[], BinaryIO] | None = None,
    ) -> None:
        self.ref = ref
        self.cache_key = ref.digest
        self._opener = opener
        self._limits = limits
        self._blob_digest = blob_digest
        self._content_addressed = content_addressed and blob_digest.startswith("sha256:")
        self._label = label or f"layer {ref.index} ({ref.digest[:19]})"
        self.blob_key = blob_key
        self.read_order = read_order
        self._portable = portable
        self._plain = False
        """Position of the bytes in their archive: the scan reads layers in this order, merges in layer order."""
        """Names the stored bytes (archive member, blob path or digest): equal keys are the same bytes."""
        self.read_blob_digest = ""
        """The SHA-256 of the stored bytes, set after a walk verified the layer completely."""

    def detached(self) -> BlobLayer | None:
        """A copy that a worker process can walk (it pickles), or None when the bytes cannot be reopened there.

        The copy verifies the same digests as this layer: a worker trusts
        nothing the parent did not also check.
        """
        if self._portable is None:
            return None
        return BlobLayer(
            self.ref,
            self._portable,
            self._limits,
            blob_digest=self._blob_digest,
            label=self._label,
            content_addressed=self._content_addressed,
            blob_key=self.blob_key,
            read_order=self.read_order,
            portable=self._portable,
        )

    def read_at(self, offset: int, size: int) -> bytes | None:
        """``size`` bytes at ``offset`` of the uncompressed layer, read again from the stored blob.

        Only while a walk of an uncompressed blob is under way, and only when
        the blob can be opened cheaply at any offset (a file, or a range of an
        uncompressed archive: the portable opener), never a registry download
        or a compressed archive read again from its start. A hard link's
        target, met earlier in the same walk, is then read again instead of
        being kept in memory. None otherwise.
        """
        if not self._plain or self._portable is None:
            return None
        if size > self._limits.max_file_bytes:
            raise FileTooLargeError(f"{size} bytes is above the per-file limit")
        raw = self._portable()
        try:
            if not raw.seekable():
                return None
            raw.seek(offset)
            data = raw.read(size)
        finally:
            raw.close()
        if len(data) != size:
            raise CorruptInputError(f"{self._label}: truncated member at offset {offset}")
        return data

    def cache_identity(self) -> str:
        """The digest of the bytes this layer really ships, to check a cached result against.

        A registry blob is content-addressed (the registry client verifies every
        download against its digest), so the manifest's digest is its identity
        without a download. Bytes on disk (docker-archive members, OCI layout
        files) are hashed as they are: a file can carry any name.
        """
        if self._content_addressed:
            return self._blob_digest
        digest = hashlib.sha256()
        raw = self._opener()
        try:
            while chunk := raw.read(1 << 20):
                digest.update(chunk)
        finally:
            raw.close()
        return "sha256:" + digest.hexdigest()

    def walk(self) -> Iterator[Entry]:
        """Stream the layer's members, then verify what was read."""
        raw = self._opener()
        try:
            verify_blob = self._blob_digest.startswith("sha256:")
            stream, compressed = open_layer(raw, self._limits, self._label, hash_compressed=True)
            self._plain = stream.plain
            buffered = io.BufferedReader(stream, buffer_size=1 << 20)
            yield from walk_tar_stream(buffered, self._limits, self._label)
            while stream.read(1 << 20):
                pass
            compressed.drain()
        finally:
            raw.close()
        if self.ref.digest and stream.digest() != self.ref.digest:
            raise CorruptInputError(
                f"{self._label}: diff ID mismatch (config says {self.ref.digest}, content is {stream.digest()})"
            )
        if verify_blob and "sha256:" + compressed.hexdigest() != self._blob_digest:
            raise CorruptInputError(f"{self._label}: blob digest mismatch (manifest says {self._blob_digest})")
        self.read_blob_digest = "sha256:" + compressed.hexdigest()
