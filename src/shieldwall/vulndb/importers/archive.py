"""Reading feed archives and directories without trusting them.

Zip members are read into memory one at a time (never extracted to disk),
after the central directory has been checked: member count, declared sizes,
total size, compression ratio (zip bombs) and names that climb out of the
archive (``../x``, ``/etc/x``), which refuse the whole archive. Directory
walks do not follow symbolic links and skip files above the per-file limit.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from shieldwall.errors import CorruptInputError, UnsafeInputError


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds for one feed archive or directory."""

    max_members: int = 1_000_000
    max_member_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 16 * 1024 * 1024 * 1024
    max_ratio: int = 200
    """Largest uncompressed/compressed ratio accepted for members above 1 MiB."""


DEFAULT_LIMITS = ArchiveLimits()


def _check_name(name: str, archive: str) -> None:
    clean = name.replace("\\", "/")
    parts = PurePosixPath(clean).parts
    if clean.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafeInputError(f"{archive}: member {name!r} escapes the archive; the archive is refused")


def iter_zip_members(
    source: str | Path | BinaryIO,
    suffixes: tuple[str, ...],
    limits: ArchiveLimits = DEFAULT_LIMITS,
    *,
    label: str = "",
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` of the regular members whose names end with one of ``suffixes``.

    Every member name is checked before any is read; a traversal name, too
    many members, a declared size above the limits or a suspicious
    compression ratio raise ``UnsafeInputError``; a broken archive raises
    ``CorruptInputError``.
    """
    where = label or str(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptInputError(f"{where}: not a readable zip archive: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeInputError(f"{where}: {len(infos)} members is above the limit of {limits.max_members}")
        total = 0
        wanted = []
        for info in infos:
            _check_name(info.filename, where)
            if info.is_dir() or not info.filename.lower().endswith(suffixes):
                continue
            if info.file_size > limits.max_member_bytes:
                raise UnsafeInputError(
                    f"{where}: member {info.filename!r} declares {info.file_size} bytes, "
                    f"above the per-member limit of {limits.max_member_bytes}"
                )
            if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise UnsafeInputError(f"{where}: member {info.filename!r} has a zip-bomb compression ratio")
            total += info.file_size
            wanted.append(info)
        if total > limits.max_total_bytes:
            raise UnsafeInputError(
                f"{where}: members declare {total} bytes in all, above the limit of {limits.max_total_bytes}"
            )
        for info in wanted:
            try:
                with archive.open(info) as member:
                    data = member.read(limits.max_member_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise CorruptInputError(f"{where}: member {info.filename!r} cannot be read: {exc}") from None
            if len(data) > limits.max_member_bytes or len(data) != info.file_size:
                raise UnsafeInputError(f"{where}: member {info.filename!r} is not the size its header declares")
            yield info.filename, data


def walk_files(
    root: Path, suffixes: tuple[str, ...], limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[tuple[Path, int]]:
    """Yield ``(path, size)`` of regular files under ``root`` ending with ``suffixes``, sorted, no symlinks.

    Hidden directories (``.git``) are skipped. Files above the per-member
    limit are yielded too (the caller reports them as skipped), so nothing
    is dropped silently.
    """
    count = 0
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("."):
                    subdirs.append(Path(entry.path))
                continue
            if not entry.name.lower().endswith(suffixes) or not entry.is_file(follow_symlinks=False):
                continue
            count += 1
            if count > limits.max_members:
                raise UnsafeInputError(f"{root}: more than {limits.max_members} files")
            yield Path(entry.path), entry.stat(follow_symlinks=False).st_size
        pending.extend(reversed(subdirs))
