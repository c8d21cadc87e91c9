"""OSV feeds: directories of OSV JSON/YAML files and zip archives such as OSV's per-ecosystem ``all.zip``.

A record that cannot be parsed is skipped with a warning naming the file;
the rest of the feed is imported. An archive that is hostile as a whole
(traversal names, zip bomb) is refused by ``archive.iter_zip_members``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shieldwall.errors import CorruptInputError, FileTooLargeError
from shieldwall.vulndb.importers.archive import DEFAULT_LIMITS, ArchiveLimits, iter_zip_members, walk_files
from shieldwall.vulndb.model import Advisory
from shieldwall.vulndb.osv import parse_osv_bytes

OSV_SUFFIXES = (".json", ".yaml", ".yml")


def iter_osv_dir(
    root: Path, warnings: list[str], *, source: str = "", limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Advisory]:
    """Every advisory in the OSV files under ``root`` (recursively, sorted by path)."""
    for path, size in walk_files(root, OSV_SUFFIXES, limits):
        if size > limits.max_member_bytes:
            warnings.append(f"{path}: skipped, {size} bytes is above the {limits.max_member_bytes}-byte limit")
            continue
        try:
            data = path.read_bytes()
            yield from parse_osv_bytes(data, str(path), source=source)
        except (CorruptInputError, FileTooLargeError) as exc:
            warnings.append(str(exc))
        except OSError as exc:
            warnings.append(f"{path}: cannot read: {exc.strerror or exc}")


def iter_osv_zip(
    archive: Path | BinaryIO,
    warnings: list[str],
    *,
    source: str = "",
    label: str = "",
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> Iterator[Advisory]:
    """Every advisory in the OSV members of a zip archive, read in memory one member at a time."""
    where = label or str(archive)
    for name, data in iter_zip_members(archive, OSV_SUFFIXES, limits, label=where):
        try:
            yield from parse_osv_bytes(data, f"{where}!{name}", source=source)
        except (CorruptInputError, FileTooLargeError) as exc:
            warnings.append(str(exc))
