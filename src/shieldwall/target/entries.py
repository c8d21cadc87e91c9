"""Entries of a layer or directory, as every analyzer runner sees them.

A directory, a docker-archive layer, an OCI blob and a registry blob all turn
into the same stream of ``Entry`` values (syft's resolver idea), so analyzers
never know where bytes came from.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, BinaryIO

from shieldwall.analyze.base import normalize_path
from shieldwall.errors import CorruptInputError, FileTooLargeError, UnsafeInputError
from shieldwall.model.text import escape_undecodable
from shieldwall.target.limits import Limits
from shieldwall.target.tarinfo import BoundedTarInfo

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class EntryKind(StrEnum):
    """What a layer member is."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    WHITEOUT = "whiteout"
    OPAQUE = "opaque"
    OTHER = "other"
    UNREADABLE = "unreadable"
    """A directory (or file) the walk could not open; ``error`` says why. Reported, never skipped silently."""


def _no_content() -> bytes:
    return b""


@dataclass(frozen=True, slots=True)
class Entry:
    """One member: its absolute path inside the target, kind, size, mode, and reader.

    For ``WHITEOUT`` the path is the deleted path; for ``OPAQUE`` it is the
    directory whose lower-layer content is hidden. ``read`` is valid only while
    the walk is positioned on this entry.
    """

    path: str
    kind: EntryKind
    size: int = 0
    mode: int = 0o644
    link: str = ""
    read: Callable[[], bytes] = _no_content
    offset: int = -1
    """Where a regular file's data starts in the uncompressed layer (-1: not from a tar stream)."""
    error: str = ""


def classify_name(path: str) -> tuple[EntryKind | None, str]:
    """Recognise whiteout and opaque markers; returns (kind, effective path) or (None, path)."""
    base = posixpath.basename(path)
    if base == OPAQUE_MARKER:
        return EntryKind.OPAQUE, posixpath.dirname(path)
    if base.startswith(WHITEOUT_PREFIX):
        return EntryKind.WHITEOUT, posixpath.join(posixpath.dirname(path), base[len(WHITEOUT_PREFIX) :])
    return None, path


def walk_tar_stream(stream: BinaryIO, limits: Limits, label: str) -> Iterator[Entry]:
    """Walk an uncompressed tar stream once, front to back, yielding entries.

    Refuses members whose names or hard-link targets climb out of the root,
    counts members against the limit, and turns tar errors into
    ``CorruptInputError``. Nothing is ever written to disk.
    """
    try:
        tar = tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo)  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise CorruptInputError(f"{label}: not a tar archive ({exc})") from exc
    members = 0
    holes = _HoleBudget(limits.max_sparse_hole_bytes, label)
    try:
        while True:
            try:
                member = tar.next()
            except tarfile.TarError as exc:
                raise CorruptInputError(f"{label}: corrupt tar ({exc})") from exc
            if member is None:
                break
            members += 1
            if members > limits.max_members:
                raise UnsafeInputError(f"{label}: more than {limits.max_members} members")
            path = escape_undecodable(normalize_path(member.name))
            special, eff = classify_name(path)
            if special is not None:
                yield Entry(eff, special)
                continue
            if member.isreg():
                yield Entry(
                    path,
                    EntryKind.FILE,
                    member.size,
                    member.mode,
                    read=_member_reader(tar, member, limits, path, label, holes),
                    # a sparse member's stored bytes are not its content: never re-read it by offset
                    offset=-1 if member.issparse() else member.offset_data,
                )
            elif member.isdir():
                yield Entry(path, EntryKind.DIR, 0, member.mode)
            elif member.issym():
                yield Entry(path, EntryKind.SYMLINK, 0, member.mode, escape_undecodable(member.linkname))
            elif member.islnk():
                target = member.linkname
                if target.startswith("/"):
                    target = target.lstrip("/")
                try:
                    link = escape_undecodable(normalize_path(target))
                except UnsafeInputError as exc:
                    raise UnsafeInputError(
                        f"{label}: hard link {path} -> {member.linkname!r} escapes the root"
                    ) from exc
                yield Entry(path, EntryKind.HARDLINK, member.size, member.mode, link)
            else:
                yield Entry(path, EntryKind.OTHER, 0, member.mode)
    except UnsafeInputError as exc:
        if not str(exc).startswith(label):
            raise UnsafeInputError(f"{label}: {exc}") from exc
        raise
    except (EOFError, OSError, tarfile.TarError) as exc:
        raise CorruptInputError(f"{label}: truncated or corrupt layer ({exc})") from exc
    finally:
        tar.close()


_CHUNK = 1 << 20


def _read_chunked(handle: IO[bytes], size: int) -> bytes:
    """Read ``size`` bytes in 1 MiB pieces: tarfile's stream reader holds three copies of one big read."""
    if size <= _CHUNK:
        return handle.read(size)
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        chunk = handle.read(min(_CHUNK, size - filled))
        if not chunk:
            break
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    view.release()
    if filled < size:
        del buffer[filled:]
    return bytes(buffer)


class _HoleBudget:
    """The zero bytes that sparse members of one layer may still expand to when they are read.

    A sparse member stores a few bytes and a map claiming any size; reading it
    materialises every hole. Past the budget the layer is a sparse bomb: the
    target fails (exit 2), as for a decompression bomb, after bounded work.
    """

    def __init__(self, limit: int, label: str) -> None:
        self.left = limit
        self.limit = limit
        self.label = label

    def charge(self, member: tarfile.TarInfo, path: str) -> None:
        """Count the holes of ``member`` (if sparse) before its content is read."""
        if not member.issparse():
            return
        segments: list[tuple[int, int]] = list(member.sparse or ())  # type: ignore[arg-type]
        stored = sum(length for _, length in segments)
        hole_bytes = max(member.size - stored, 0)
        if hole_bytes > self.left:
            raise UnsafeInputError(
                f"{self.label}: sparse member {path} expands to {member.size} bytes; the holes of sparse members "
                f"would pass the {self.limit}-byte limit for one layer (a sparse bomb)"
            )
        self.left -= hole_bytes


def _member_reader(
    tar: tarfile.TarFile, member: tarfile.TarInfo, limits: Limits, path: str, label: str, holes: _HoleBudget
) -> Callable[[], bytes]:
    cache: list[bytes] = []

    def read() -> bytes:
        if cache:
            return cache[0]
        if member.size > limits.max_file_bytes:
            raise FileTooLargeError(f"{path}: {member.size} bytes is above the per-file limit")
        holes.charge(member, path)
        # A member whose data stops short (or whose sparse map is broken) fails inside the tar
        # module; that is a corrupt layer, reported as such wherever the content is read.
        try:
            handle = tar.extractfile(member)
            if handle is None:
                return b""
            data = _read_chunked(handle, member.size)
        except (EOFError, OSError, tarfile.TarError) as exc:
            raise CorruptInputError(f"{label}: truncated or corrupt member {path} ({exc})") from exc
        cache.append(data)
        return data

    return read
