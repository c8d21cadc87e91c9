"""Byte streams for layers: decompression by magic number, counting, hashing, bomb guards."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO, Protocol

import zstandard

from shieldwall.errors import CorruptInputError, UnsafeInputError
from shieldwall.target.limits import Limits

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class CountingReader(io.RawIOBase):
    """Reads from ``inner``, counting and optionally hashing every byte that passes."""

    def __init__(self, inner: BinaryIO, *, hash_name: str | None = None) -> None:
        self._inner = inner
        self.count = 0
        self._hash = hashlib.new(hash_name) if hash_name else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self._hash is not None:
            self._hash.update(data)
        return n

    def hexdigest(self) -> str:
        """Hex digest of everything read so far."""
        assert self._hash is not None
        return self._hash.hexdigest()

    def drain(self) -> None:
        """Read to the end so the digest covers the whole stream."""
        while self.read(1 << 20):
            pass


class Readable(Protocol):
    """Anything with ``read(n)``: files, decompressors, responses."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


class GuardedReader(io.RawIOBase):
    """Enforces the layer size and decompression-ratio limits on an uncompressed stream.

    ``same_bytes``: the layer is not compressed, so the bytes are the ones
    ``compressed`` already hashes; they are not hashed twice, and ``digest``
    reads that hash (equal once both streams are drained, as a walk does).
    """

    def __init__(
        self, inner: Readable, compressed: CountingReader, limits: Limits, label: str, *, same_bytes: bool = False
    ) -> None:
        self._inner = inner
        self._compressed = compressed
        self._limits = limits
        self._label = label
        self.count = 0
        self._hash = None if same_bytes else hashlib.sha256()
        self.plain = False
        """The layer is not compressed: its offsets are offsets into the stored blob."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            raise CorruptInputError(f"{self._label}: cannot decompress layer ({exc})") from exc
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self._hash is not None:
            self._hash.update(data)
        limits = self._limits
        if self.count > limits.max_layer_bytes:
            raise UnsafeInputError(f"{self._label}: layer exceeds the size limit of {limits.max_layer_bytes} bytes")
        if self.count > limits.bomb_floor and self.count > limits.max_ratio * max(self._compressed.count, 1):
            raise UnsafeInputError(
                f"{self._label}: decompression bomb: {self.count} bytes from "
                f"{self._compressed.count} compressed bytes (ratio limit {limits.max_ratio})"
            )
        return n

    def digest(self) -> str:
        """``sha256:<hex>`` of the uncompressed bytes (the diff ID once drained)."""
        if self._hash is None:
            return "sha256:" + self._compressed.hexdigest()
        return "sha256:" + self._hash.hexdigest()


class PrefixedReader(io.RawIOBase):
    """Replays a sniffed prefix before the rest of a non-seekable stream."""

    def __init__(self, prefix: bytes, inner: BinaryIO) -> None:
        self._prefix = prefix
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class IteratorReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def open_layer(
    raw: BinaryIO, limits: Limits, label: str, *, hash_compressed: bool = True
) -> tuple[GuardedReader, CountingReader]:
    """Wrap a (possibly compressed) layer blob into a guarded, uncompressed stream.

    Returns the uncompressed reader (which also hashes, for the diff ID) and
    the counting reader over the compressed bytes (for the blob digest).
    """
    compressed = CountingReader(raw, hash_name="sha256" if hash_compressed else None)
    buffered = io.BufferedReader(compressed, buffer_size=1 << 20)
    head = buffered.read(4)
    prefixed = io.BufferedReader(PrefixedReader(head, buffered), buffer_size=1 << 20)
    inner: Readable
    if head.startswith(GZIP_MAGIC):
        inner = gzip.GzipFile(fileobj=prefixed, mode="rb")
    elif head.startswith(ZSTD_MAGIC):
        inner = zstandard.ZstdDecompressor().stream_reader(prefixed, read_across_frames=True)
    else:
        inner = prefixed
        guarded = GuardedReader(inner, compressed, limits, label, same_bytes=hash_compressed)
        guarded.plain = True
        return guarded, compressed
    return GuardedReader(inner, compressed, limits, label), compressed
