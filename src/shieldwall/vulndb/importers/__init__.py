"""Feed importers: OSV (directories, zips, single files), RustSec, Alpine secdb, CISA KEV, EPSS.

``detect_format`` guesses a feed's format from its shape; ``import_feed``
reads it into a database being built (``VulnDB.build``), as one source whose
previous content it replaces.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import assert_never

from shieldwall.errors import CorruptInputError, InputError
from shieldwall.vulndb.importers.alpine import iter_alpine_secdb
from shieldwall.vulndb.importers.archive import DEFAULT_LIMITS, ArchiveLimits, walk_files
from shieldwall.vulndb.importers.epss import EpssHeader, iter_epss
from shieldwall.vulndb.importers.kev import parse_kev
from shieldwall.vulndb.importers.osv_feed import OSV_SUFFIXES, iter_osv_dir, iter_osv_zip
from shieldwall.vulndb.importers.rustsec import iter_rustsec_dir, parse_rustsec
from shieldwall.vulndb.model import Advisory, SourceInfo
from shieldwall.vulndb.osv import MAX_RECORD_BYTES, parse_osv_bytes
from shieldwall.vulndb.store import ImportStats, VulnDBWriter

KEV_SOURCE = "cisa-kev"
EPSS_SOURCE = "first-epss"
MAX_FEED_FILE_BYTES = 4 * 1024 * 1024 * 1024


class FeedFormat(StrEnum):
    """Formats ``shieldwall db import`` reads."""

    OSV = "osv"
    RUSTSEC = "rustsec"
    ALPINE_SECDB = "alpine-secdb"
    KEV = "kev"
    EPSS = "epss"
    BUNDLE = "bundle"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one feed import did."""

    source: str
    format: FeedFormat
    count: int
    stats: ImportStats | None = None
    warnings: tuple[str, ...] = ()


def _head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def _sniff_text(head: bytes) -> FeedFormat | None:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    first_line = text.split("\n", 1)[0]
    if text.startswith("```toml") or text.startswith("[advisory]"):
        return FeedFormat.RUSTSEC
    if first_line.startswith("#model_version") or first_line.lower().replace(" ", "").startswith("cve,epss"):
        return FeedFormat.EPSS
    if "cveID" in first_line and "," in first_line:
        return FeedFormat.KEV
    if re.search(r"\"?distroversion\"?\s*:", text) and re.search(r"\"?packages\"?\s*:", text):
        return FeedFormat.ALPINE_SECDB
    if '"catalogVersion"' in text or ('"vulnerabilities"' in text and '"cveID"' in text):
        return FeedFormat.KEV
    return None


def detect_format(path: Path) -> FeedFormat:
    """Guess the format of a file or directory; raises ``InputError`` when nothing fits."""
    if path.is_dir():
        if (path / "crates").is_dir():
            return FeedFormat.RUSTSEC
        for count, (file, _) in enumerate(walk_files(path, (*OSV_SUFFIXES, ".md", ".toml"))):
            guess = _sniff_text(_head(file))
            if guess in (FeedFormat.RUSTSEC, FeedFormat.ALPINE_SECDB):
                return guess
            if file.suffix.lower() in OSV_SUFFIXES and count >= 20:
                break
        return FeedFormat.OSV
    if not path.is_file():
        raise InputError(f"{path}: no such file or directory")
    head = _head(path, 8192)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return FeedFormat.OSV
    if head[:2] == b"\x1f\x8b":
        return FeedFormat.EPSS
    if len(head) > 262 and head[257:262] == b"ustar":
        return FeedFormat.BUNDLE
    guess = _sniff_text(head)
    if guess is not None:
        return guess
    if path.suffix.lower() in OSV_SUFFIXES:
        return FeedFormat.OSV
    if path.suffix.lower() in (".tar",) and tarfile.is_tarfile(path):
        return FeedFormat.BUNDLE
    raise InputError(f"{path}: cannot tell the feed format; pass --format (osv, rustsec, alpine-secdb, kev, epss)")


def default_source_name(fmt: FeedFormat, location: str) -> str:
    """The source name an import is recorded under when the user gives none.

    KEV and EPSS are single feeds: a new import replaces the previous one
    whatever file it came from. Advisory feeds are named by their location,
    so importing the same directory again replaces it.
    """
    if fmt is FeedFormat.KEV:
        return KEV_SOURCE
    if fmt is FeedFormat.EPSS:
        return EPSS_SOURCE
    return f"{fmt.value}:{location}"


def _read_bounded(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise InputError(f"{path}: {size} bytes is above the {limit}-byte limit for this feed")
    return path.read_bytes()


def iter_advisories(
    path: Path, fmt: FeedFormat, warnings: list[str], *, source: str = "", limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Advisory]:
    """The advisories of an advisory feed at ``path`` (OSV, RustSec or Alpine secdb)."""
    if fmt is FeedFormat.OSV:
        if path.is_dir():
            yield from iter_osv_dir(path, warnings, source=source, limits=limits)
        elif path.suffix.lower() == ".zip" or _head(path, 4).startswith(b"PK"):
            yield from iter_osv_zip(path, warnings, source=source, limits=limits)
        else:
            yield from parse_osv_bytes(_read_bounded(path, MAX_RECORD_BYTES), str(path), source=source)
    elif fmt is FeedFormat.RUSTSEC:
        if path.is_dir():
            yield from iter_rustsec_dir(path, warnings, source=source, limits=limits)
        else:
            text = _read_bounded(path, MAX_RECORD_BYTES).decode("utf-8", errors="replace")
            yield parse_rustsec(text, str(path), source=source)
    elif fmt is FeedFormat.ALPINE_SECDB:
        yield from iter_alpine_secdb(path, warnings, source=source, limits=limits)
    else:
        raise InputError(f"{fmt.value} is not an advisory feed")


def _count(writer: VulnDBWriter, name: str) -> int:
    previous = writer.source(name)
    return previous.count if previous is not None else 0


def _refuse_empty(count: int, path: Path, source: str, allow_empty: bool, had: int) -> None:
    if count == 0 and had > 0 and not allow_empty:
        raise CorruptInputError(
            f"{path}: the feed holds no records; source {source!r} was left as it was"
            " (--allow-empty replaces it anyway)"
        )


def import_feed(
    writer: VulnDBWriter,
    path: Path,
    fmt: FeedFormat | None = None,
    *,
    source: SourceInfo | None = None,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    allow_empty: bool = False,
) -> ImportResult:
    """Import the feed at ``path`` into ``writer`` as one source (replacing that source's previous content).

    A feed that yields no record at all for a source that had records is
    refused (``CorruptInputError``, the database unchanged) unless
    ``allow_empty``: replacing a source with nothing would silently drop every
    advisory it had, and a truncated download, a mirror serving an error page
    in a zip or a hostile archive all look like that.

    ``fmt`` defaults to ``detect_format(path)``; ``source`` defaults to
    ``default_source_name``. Records that cannot be read are skipped and
    listed in ``warnings``; a feed that is hostile or unreadable as a whole
    raises (and the build it belongs to leaves the database unchanged).
    """
    fmt = fmt or detect_format(path)
    info = source or SourceInfo(default_source_name(fmt, str(path.resolve())), url=str(path.resolve()))
    info = SourceInfo(info.name, info.url, info.etag, info.last_modified, info.kind or fmt.value)
    warnings: list[str] = []
    if fmt is FeedFormat.OSV or fmt is FeedFormat.RUSTSEC or fmt is FeedFormat.ALPINE_SECDB:
        stats = writer.replace_source(info, iter_advisories(path, fmt, warnings, source=info.name, limits=limits))
        if stats.total == 0 and warnings:
            raise CorruptInputError(f"{path}: no advisory could be read ({len(warnings)} errors; first: {warnings[0]})")
        _refuse_empty(stats.total, path, info.name, allow_empty, stats.removed)
        return ImportResult(info.name, fmt, stats.total, stats, tuple(warnings))
    if fmt is FeedFormat.KEV:
        entries = parse_kev(_read_bounded(path, MAX_FEED_FILE_BYTES), str(path))
        _refuse_empty(len(entries), path, info.name, allow_empty, _count(writer, info.name))
        count = writer.replace_kev(info, entries)
        return ImportResult(info.name, fmt, count)
    if fmt is FeedFormat.EPSS:
        header = EpssHeader()
        had = _count(writer, info.name)
        count = writer.replace_epss(info, iter_epss(_read_bounded(path, MAX_FEED_FILE_BYTES), str(path), header))
        _refuse_empty(count, path, info.name, allow_empty, had)
        return ImportResult(info.name, fmt, count)
    if fmt is FeedFormat.BUNDLE:
        raise InputError(f"{path} is a database bundle: use `shieldwall db import-bundle`")
    assert_never(fmt)
