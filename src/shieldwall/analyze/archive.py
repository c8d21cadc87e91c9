"""Archives opened in memory, nested, under size and depth limits.

Shared by the detectors that look inside files (secrets, malware): zip (and
every zip-based format: jar, war, ear, whl, apk, docx...), tar (plain or
compressed), and single gzip, bzip2 and xz streams. The format is sniffed
from the magic bytes, never from the name, since a planted payload can be
named anything.

``iter_archive_members(data, name, limits)`` yields every member,
depth-first; a member that is itself an archive is yielded (its bytes may
matter too: a hash list can name a whole jar) and then descended into. Each
member's ``path`` chains the names with ``!``: ``/app/lib.zip!inner.jar!a/B.class``.
Nothing is extracted to disk and nothing is executed. Limits (members,
bytes per member, bytes per top-level file, nesting depth) turn a
decompression bomb into ``skipped`` members with a reason instead of memory
exhaustion; a corrupt archive is one skipped entry, not an exception.
"""

from __future__ import annotations

import bz2
import io
import lzma
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

from shieldwall.target.tarinfo import BoundedTarInfo

MiB = 1024 * 1024

ArchiveFormat = Literal["zip", "tar", "gzip", "bzip2", "xz"]

_CHUNK = 1 * MiB
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)
_ZIP_METHODS = {1: "1 (shrink)", 6: "6 (implode)", 9: "9 (deflate64)", 98: "98 (PPMd)", 99: "99 (AES)"}
_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError)
_STREAM_SUFFIXES = {"gzip": (".gz", ".tgz", ".z"), "bzip2": (".bz2", ".tbz2", ".tbz"), "xz": (".xz", ".txz")}


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds for one top-level file and everything nested in it.

    ``max_depth`` counts containers: members of the top-level archive are at
    depth 1, members of an archive inside it at depth 2, and so on.
    ``max_members`` and ``max_total_bytes`` are shared by all levels.
    """

    max_depth: int = 16
    max_members: int = 20_000
    max_member_bytes: int = 64 * MiB
    max_total_bytes: int = 256 * MiB


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One member of an archive, or a member that could not be read (``skipped`` says why, ``data`` is empty)."""

    path: str
    data: bytes
    depth: int
    skipped: str = ""


def archive_format(data: bytes) -> ArchiveFormat | None:
    """The container format of ``data`` from its magic bytes, or None when it is not one."""
    head = data[:6]
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and len(data) > 10 and data[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    if head == b"\xfd7zXZ\x00":
        return "xz"
    if data[257:262] == b"ustar":
        return "tar"
    return None


def is_archive(data: bytes) -> bool:
    """True when ``iter_archive_members`` would open ``data``."""
    return archive_format(data) is not None


class _Budget:
    __slots__ = ("limits", "members", "total")

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def cap(self) -> int:
        """How many bytes the next member may decompress to."""
        return max(0, min(self.limits.max_member_bytes, self.limits.max_total_bytes - self.total))

    def over_members(self) -> bool:
        self.members += 1
        return self.members > self.limits.max_members


class _TooLarge(Exception):
    pass


def iter_archive_members(
    data: bytes, name: str, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> Iterator[ArchiveMember]:
    """Every member of ``data`` (named ``name``), nested archives included; nothing when it is no archive."""
    yield from _walk(data, name, 1, _Budget(limits))


def _walk(data: bytes, name: str, depth: int, budget: _Budget) -> Iterator[ArchiveMember]:
    kind = archive_format(data)
    if kind is None:
        return
    if kind == "zip":
        members = _zip_members(data, name, depth, budget)
    elif kind == "tar":
        members = _tar_members(data, name, depth, budget)
    else:
        members = _stream_member(data, kind, name, depth, budget)
    for member in members:
        yield member
        if member.skipped or not is_archive(member.data):
            continue
        if depth >= budget.limits.max_depth:
            yield ArchiveMember(
                member.path, b"", depth, f"archive nested deeper than {budget.limits.max_depth} levels not opened"
            )
            continue
        yield from _walk(member.data, member.path, depth + 1, budget)


def _read_bounded(handle: IO[bytes], cap: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = handle.read(min(_CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > cap:
            raise _TooLarge
        chunks.append(chunk)


def _too_large(path: str, depth: int, size: int | str, budget: _Budget) -> ArchiveMember:
    if budget.cap() < budget.limits.max_member_bytes:
        reason = f"decompressing it would go over the {budget.limits.max_total_bytes}-byte total limit"
    else:
        reason = f"{size} bytes, over the {budget.limits.max_member_bytes}-byte member limit"
    return ArchiveMember(path, b"", depth, reason)


def _member_path(outer: str, raw: str) -> str:
    inner = raw.replace("\\", "/").replace("\x00", "")
    return f"{outer}!{inner.lstrip('/')}"


def _zip_members(data: bytes, name: str, depth: int, budget: _Budget) -> Iterator[ArchiveMember]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except _ZIP_ERRORS as exc:
        yield ArchiveMember(name, b"", depth - 1, f"unreadable zip archive: {exc}")
        return
    with zf:
        for info in infos:
            path = _member_path(name, info.filename)
            if budget.over_members():
                yield ArchiveMember(
                    name, b"", depth - 1, f"more than {budget.limits.max_members} members; rest skipped"
                )
                return
            if info.flag_bits & 0x1:
                yield ArchiveMember(path, b"", depth, "encrypted zip member")
                continue
            cap = budget.cap()
            if info.file_size > cap:
                yield _too_large(path, depth, info.file_size, budget)
                continue
            try:
                with zf.open(info) as handle:
                    content = _read_bounded(handle, cap)
            except _TooLarge:
                yield _too_large(path, depth, f"more than {cap} (declared {info.file_size})", budget)
                continue
            except NotImplementedError:
                method = _ZIP_METHODS.get(info.compress_type, str(info.compress_type))
                yield ArchiveMember(path, b"", depth, f"unsupported zip compression method {method}")
                continue
            except (*_ZIP_ERRORS, RuntimeError) as exc:
                yield ArchiveMember(path, b"", depth, f"cannot decompress: {type(exc).__name__}: {exc}")
                continue
            budget.total += len(content)
            yield ArchiveMember(path, content, depth)


def _open_tar(data: bytes) -> tarfile.TarFile | str:
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:", tarinfo=BoundedTarInfo)
    except _TAR_ERRORS as exc:
        return f"unreadable tar archive: {exc}"


def _tar_members(data: bytes, name: str, depth: int, budget: _Budget) -> Iterator[ArchiveMember]:
    tf = _open_tar(data)
    if isinstance(tf, str):
        yield ArchiveMember(name, b"", depth - 1, tf)
        return
    with tf:
        try:
            for info in tf:
                if not info.isfile():
                    continue
                path = _member_path(name, info.name)
                if budget.over_members():
                    yield ArchiveMember(
                        name, b"", depth - 1, f"more than {budget.limits.max_members} members; rest skipped"
                    )
                    return
                cap = budget.cap()
                if info.size > cap:
                    yield _too_large(path, depth, info.size, budget)
                    continue
                handle = tf.extractfile(info)
                if handle is None:
                    continue
                content = handle.read(info.size)
                budget.total += len(content)
                yield ArchiveMember(path, content, depth)
        except _TAR_ERRORS as exc:
            yield ArchiveMember(name, b"", depth - 1, f"truncated or corrupt tar archive: {exc}")


def _decompressor(kind: ArchiveFormat) -> zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor:
    if kind == "gzip":
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


def decompress_bounded(data: bytes, kind: ArchiveFormat, cap: int) -> bytes:
    """Decompress a gzip, bzip2 or xz stream (concatenated streams too) to at most ``cap`` bytes.

    Raises ``ValueError`` when the stream is corrupt and ``OverflowError`` when
    it decompresses to more than ``cap`` bytes; never allocates much beyond ``cap``.
    """
    out = bytearray()
    pending = data
    while pending:
        engine = _decompressor(kind)
        try:
            if isinstance(engine, bz2.BZ2Decompressor | lzma.LZMADecompressor):
                chunk = engine.decompress(pending, max_length=cap + 1 - len(out))
                out += chunk
                while not engine.eof and not engine.needs_input and len(out) <= cap:
                    out += engine.decompress(b"", max_length=cap + 1 - len(out))
                finished = engine.eof
                rest = engine.unused_data if finished else b""
            else:
                out += engine.decompress(pending, cap + 1 - len(out))
                while engine.unconsumed_tail and len(out) <= cap:
                    out += engine.decompress(engine.unconsumed_tail, cap + 1 - len(out))
                finished = engine.eof
                rest = engine.unused_data if finished else b""
        except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
            raise ValueError(f"corrupt {kind} stream: {exc}") from None
        if len(out) > cap:
            raise OverflowError(f"decompresses to more than {cap} bytes")
        if not finished:
            raise ValueError(f"truncated {kind} stream")
        # concatenated streams; trailing zero padding (common after gzip) ends the data
        pending = rest if rest.strip(b"\x00") else b""
        if pending and archive_format(pending) != kind:
            break
    return bytes(out)


def _stream_member(data: bytes, kind: ArchiveFormat, name: str, depth: int, budget: _Budget) -> Iterator[ArchiveMember]:
    base = posixpath.basename(name.rsplit("!", 1)[-1])
    lower = base.lower()
    inner = base
    for suffix in _STREAM_SUFFIXES.get(kind, ()):
        if lower.endswith(suffix) and len(base) > len(suffix):
            inner = base[: -len(suffix)] + (".tar" if suffix in (".tgz", ".tbz2", ".tbz", ".txz") else "")
            break
    path = f"{name}!{inner}"
    if budget.over_members():
        yield ArchiveMember(name, b"", depth - 1, f"more than {budget.limits.max_members} members; rest skipped")
        return
    cap = budget.cap()
    try:
        content = decompress_bounded(data, kind, cap)
    except OverflowError:
        yield _too_large(path, depth, f"more than {cap}", budget)
        return
    except ValueError as exc:
        yield ArchiveMember(path, b"", depth, str(exc))
        return
    budget.total += len(content)
    if archive_format(content) == "tar":
        # a compressed tar is one container: its members sit directly under the outer name
        yield from _tar_members(content, name, depth, budget)
        return
    yield ArchiveMember(path, content, depth)
