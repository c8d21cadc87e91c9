"""Random access to the named files of an image archive: a tar or a directory.

Both docker-archive and OCI layout read JSON documents and layer blobs by
name; a name that climbs out of the archive, or a symlink that points
outside a layout directory, is refused.
"""

from __future__ import annotations

import functools
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from shieldwall.analyze.base import normalize_path
from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.target.limits import DEFAULT_LIMITS, Limits
from shieldwall.target.tarinfo import BoundedTarInfo


class BlobSource(Protocol):
    """Named files of an archive."""

    label: str

    def exists(self, name: str) -> bool:
        """True when ``name`` is a regular file of the archive."""
        ...

    def open(self, name: str) -> BinaryIO:
        """Open ``name`` for streaming."""
        ...

    def size(self, name: str) -> int:
        """Size in bytes of ``name``."""
        ...

    def portable_opener(self, name: str) -> Callable[[], BinaryIO] | None:
        """An opener for ``name`` that a worker process can call (it pickles); None when there is none."""
        ...

    def close(self) -> None:
        """Release the archive."""
        ...


def read_bounded(source: BlobSource, name: str, limit: int) -> bytes:
    """Read a small document (manifest, config, index) with a size bound."""
    size = source.size(name)
    if size > limit:
        raise UnsafeInputError(f"{source.label}: {name} is {size} bytes, above the {limit}-byte limit")
    with source.open(name) as handle:
        return handle.read(limit + 1)[:limit]


def verify_digest(data: bytes, digest: str, label: str) -> None:
    """Check ``data`` against an OCI digest (``sha256:...`` / ``sha512:...``)."""
    algo, _, expected = digest.partition(":")
    if algo not in ("sha256", "sha512") or not expected:
        raise CorruptInputError(f"{label}: unsupported digest {digest!r}")
    actual = hashlib.new(algo, data).hexdigest()
    if actual != expected:
        raise CorruptInputError(f"{label}: digest mismatch (expected {digest}, got {algo}:{actual})")


def blob_path(digest: str) -> str:
    """``blobs/<algo>/<hex>`` for a digest, refusing anything but plain hex."""
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha512") or not hexpart or not all(c in "0123456789abcdef" for c in hexpart):
        raise CorruptInputError(f"invalid digest {digest!r}")
    return f"blobs/{algo}/{hexpart}"


# An image archive holds manifests, configs and one blob per layer; far fewer than this.
MAX_ARCHIVE_MEMBERS = 100_000

_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _compressed_size(path: Path) -> int | None:
    """The file's size when it is a compressed tar (gzip, bzip2, xz), else ``None``."""
    with path.open("rb") as handle:
        magic = handle.read(6)
    return path.stat().st_size if magic.startswith(_COMPRESSED_MAGIC) else None


def _check_ratio(path: Path, member: tarfile.TarInfo, compressed: int | None, limits: Limits) -> None:
    """Refuse a compressed archive whose members claim more than the decompression-ratio limit allows.

    Stepping to the next member decompresses everything before it, so the check
    runs on the claimed end of each member, before any of it is read.
    """
    if compressed is None:
        return
    end = member.offset_data + member.size
    if end > limits.bomb_floor and end > limits.max_ratio * max(compressed, 1):
        raise UnsafeInputError(
            f"{path}: decompression bomb: members claim {end} bytes from a {compressed}-byte compressed archive "
            f"(ratio limit {limits.max_ratio})"
        )


# Compressed archives (``docker save | gzip``) cannot be read from the middle.
_COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class RangeReader(io.RawIOBase):
    """``size`` bytes of a file from ``offset``: one member of an uncompressed archive, opened anew."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._file = path.open("rb")
        self._file.seek(offset)
        self._base = offset
        self._size = size
        self._left = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        current = self._size - self._left
        target = {0: pos, 1: current + pos, 2: self._size + pos}[whence]
        target = max(0, min(target, self._size))
        self._file.seek(self._base + target)
        self._left = self._size - target
        return target

    def tell(self) -> int:
        return self._size - self._left

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        n = self._file.readinto(memoryview(buffer)[: min(len(buffer), self._left)])
        if not n:
            return 0
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def open_range(path: Path, offset: int, size: int) -> BinaryIO:
    """Open ``size`` bytes of ``path`` from ``offset`` (a module function, so openers built on it pickle)."""
    return io.BufferedReader(RangeReader(path, offset, size), buffer_size=1 << 20)


class TarBlobs:
    """Members of a tar file (docker save output, an OCI layout tar)."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.label = str(path)
        self._file = path.resolve()
        try:
            with path.open("rb") as head:
                self._plain = not head.read(6).startswith(_COMPRESSED_MAGICS)
        except OSError:
            self._plain = False
        try:
            compressed = _compressed_size(path)
            self._tar = tarfile.open(path, mode="r:*", tarinfo=BoundedTarInfo)  # noqa: SIM115 - closed by close()
            members = []
            try:
                for member in self._tar:
                    members.append(member)
                    if len(members) > MAX_ARCHIVE_MEMBERS:
                        raise UnsafeInputError(f"{path}: more than {MAX_ARCHIVE_MEMBERS} members in the archive")
                    _check_ratio(path, member, compressed, limits)
            except BaseException:
                self._tar.close()
                raise
        except (tarfile.TarError, EOFError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CorruptInputError(f"{path}: not a readable tar archive ({reason})") from exc
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in members:
            try:
                name = normalize_path(member.name)[1:]
            except UnsafeInputError:
                continue  # never addressed: names we look up are relative and clean
            self._members[name] = member

    def _member(self, name: str) -> tarfile.TarInfo:
        clean = normalize_path(name)[1:]
        member = self._members.get(clean)
        seen = 0
        while member is not None and (member.issym() or member.islnk()) and seen < 8:
            seen += 1
            link = member.linkname
            base = posixpath.dirname(clean) if member.issym() else ""
            joined = posixpath.normpath(posixpath.join(base, link.lstrip("/")))
            if joined.startswith("..") or link.startswith("/"):
                raise UnsafeInputError(f"{self.label}: link {name} -> {link!r} escapes the archive")
            clean = joined
            member = self._members.get(clean)
        if member is None or not member.isreg():
            raise CorruptInputError(f"{self.label}: missing member {name}")
        return member

    def exists(self, name: str) -> bool:
        try:
            self._member(name)
        except (CorruptInputError, UnsafeInputError):
            return False
        return True

    def open(self, name: str) -> BinaryIO:
        handle = self._tar.extractfile(self._member(name))
        if handle is None:
            raise CorruptInputError(f"{self.label}: cannot read {name}")
        return handle  # type: ignore[return-value]

    def size(self, name: str) -> int:
        return self._member(name).size

    def portable_opener(self, name: str) -> Callable[[], BinaryIO] | None:
        """An opener another process can use (it pickles): the member's byte range of the archive file.

        None when the archive is compressed or the member sparse: its bytes
        are not one plain range of the file.
        """
        member = self._member(name)
        if not self._plain or member.issparse():
            return None
        return functools.partial(open_range, self._file, member.offset_data, member.size)

    def offset(self, name: str) -> int:
        """Where the member's data starts in the archive: reading in this order never seeks back.

        A compressed archive (``docker save | gzip``) can only seek back by
        decompressing again from its start; layers read in archive order cost
        one pass whatever order the manifest lists them in.
        """
        return self._member(name).offset_data

    def close(self) -> None:
        self._tar.close()


class DirBlobs:
    """Files of a directory (an OCI layout on disk); links must stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.label = str(root)

    def _path(self, name: str) -> Path:
        clean = normalize_path(name)[1:]
        real = (self.root / clean).resolve()
        if real != self.root and self.root not in real.parents:
            raise UnsafeInputError(f"{self.label}: {name} resolves outside the layout")
        if not real.is_file():
            raise CorruptInputError(f"{self.label}: missing file {name}")
        return real

    def exists(self, name: str) -> bool:
        try:
            self._path(name)
        except InputError:
            return False
        return True

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def portable_opener(self, name: str) -> Callable[[], BinaryIO] | None:
        """An opener another process can use: this object pickles, and ``open`` checks the path again."""
        self._path(name)
        return functools.partial(self.open, name)

    def close(self) -> None:
        return None
