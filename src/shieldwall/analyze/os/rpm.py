"""RPM packages from the rpm database: SQLite, Berkeley DB (``Packages``) and NDB (``Packages.db``).

Every backend stores the same thing per installed package: its *header blob*,
the immutable header region of the ``.rpm`` file (without the lead and the
signature header) plus whatever rpm added at install time.

Header blob format (all integers big-endian)::

    int32  il                       number of index entries
    int32  dl                       length of the data store in bytes
    il x { int32  tag               RPMTAG_* number
           uint32 type              0 NULL, 1 CHAR, 2 INT8, 3 INT16, 4 INT32, 5 INT64,
                                    6 STRING, 7 BIN, 8 STRING_ARRAY, 9 I18NSTRING
           int32  offset            where the value starts, relative to the data store
           uint32 count }           number of values (1 for STRING)
    dl bytes  data store            values, each aligned to its type's size; STRING is
                                    NUL-terminated, STRING_ARRAY and I18NSTRING are
                                    ``count`` NUL-terminated strings one after the other

The first entry is usually a region tag (63, RPMTAG_HEADERIMMUTABLE, type BIN,
count 16) whose value is a trailer entry at the end of the region; entries after
the region ("dribble" entries rpm added later) override earlier ones with the
same tag. Only the tags listed below are decoded, each bounds-checked against
the data store; nothing else of the blob is trusted.

The three database containers:

* SQLite: table ``Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)``.
  The bytes are written to a private temporary file (mode 0600 in a 0700
  directory) and opened read-only and immutable. rpm keeps the database in WAL
  mode; as we never have the ``-wal`` file, the copy's header is switched to
  rollback-journal mode first, which reads the same committed pages.
* Berkeley DB hash (``Packages``), read as go-rpmdb does: a metadata page
  (magic 0x061561 at offset 12, page size at 20, page type 8 at 25, last page
  number at 32; byte order given by the magic), then hash pages (type 13, or 2
  on RHEL 5) whose item index (uint16 offsets after the 26-byte page header)
  holds key/value pairs. Header values are HOFFPAGE items (type 3: page number
  at +4, total length at +8) pointing at a chain of overflow pages (type 7;
  next page at offset 16, bytes used on the page at offset 22, data from 26).
* NDB (``Packages.db``, SUSE): a 32-byte header (``RpmP``, version 0,
  generation, number of 4 KiB slot pages), then 16-byte slots (``Slot``,
  package index, block offset, block count); a used slot points at
  ``offset * 16`` to a blob header (``BlbS``, package index, checksum, length)
  followed by the header blob. All little-endian.
"""

from __future__ import annotations

import os
import posixpath
import sqlite3
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, FileRecord
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.analyze.os.owned import MAX_RECORDS, is_language_metadata
from shieldwall.model import Package, PackageType

DB_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
DB_NAMES = ("rpmdb.sqlite", "Packages", "Packages.db")

MAX_DB_BYTES = 1024 * 1024 * 1024
MAX_PACKAGES = 200_000
MAX_WARNINGS = 20
# rpm's own limits (lib/header.c): at most 0xffff index entries, data store below 256 MiB.
MAX_INDEX_ENTRIES = 0xFFFF
MAX_DATA_BYTES = 256 * 1024 * 1024

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_SUMMARY = 1004
TAG_VENDOR = 1011
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_OLDFILENAMES = 1027
TAG_FILEDIGESTS = 1035
TAG_FILEDIGESTALGO = 5011
TAG_SOURCERPM = 1044
TAG_REQUIRENAME = 1049
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
TAG_MODULARITYLABEL = 5096

TYPE_INT32 = 4
TYPE_STRING = 6
TYPE_STRING_ARRAY = 8
TYPE_I18NSTRING = 9

_STRING_TAGS = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_VENDOR, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM}
_STRING_TAGS |= {TAG_MODULARITYLABEL}
_ARRAY_TAGS = {TAG_REQUIRENAME, TAG_SUMMARY, TAG_BASENAMES, TAG_DIRNAMES, TAG_OLDFILENAMES}
_INT_TAGS = {TAG_EPOCH, TAG_FILEDIGESTALGO}
_INT_ARRAY_TAGS = {TAG_DIRINDEXES}
_FILE_TAGS = {TAG_BASENAMES, TAG_DIRNAMES, TAG_DIRINDEXES, TAG_OLDFILENAMES, TAG_FILEDIGESTS, TAG_FILEDIGESTALGO}
_WANTED_TAGS = _STRING_TAGS | _ARRAY_TAGS | _INT_TAGS | _INT_ARRAY_TAGS
# rpm's PGPHASHALGO numbers for FILEDIGESTALGO (absent: MD5, as rpm < 4.6 wrote); the secret
# detectors hash flagged files with MD5, SHA-1 and SHA-256 only, so other algorithms are not compared.
DIGEST_ALGORITHMS = {1: "md5", 2: "sha1", 8: "sha256"}

_SQLITE_MAGIC = b"SQLite format 3\x00"
_NDB_MAGIC = b"RpmP"
_BDB_HASH_MAGIC = 0x061561
_BDB_PAGE_SIZES = {512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}
_BDB_PAGE_HEADER = 26
_BDB_HASH_META = 8
_BDB_HASH_PAGES = {2, 13}  # P_HASH_UNSORTED (RHEL 5), P_HASH
_BDB_OVERFLOW = 7
_BDB_HOFFPAGE = 3
_NDB_SLOT_MAGIC = b"Slot"
_NDB_BLOB_MAGIC = b"BlbS"
_NDB_MAX_SLOT_PAGES = 2048


@dataclass(frozen=True, slots=True)
class RpmHeader:
    """The fields of one header blob that Shieldwall uses; absent ones are empty / None."""

    name: str = ""
    version: str = ""
    release: str = ""
    epoch: int | None = None
    arch: str = ""
    source_rpm: str = ""
    license: str = ""
    vendor: str = ""
    summary: str = ""
    modularity_label: str = ""
    requires: tuple[str, ...] = ()
    basenames: tuple[str, ...] = ()
    dirnames: tuple[str, ...] = ()
    dirindexes: tuple[int, ...] = ()
    old_filenames: tuple[str, ...] = ()
    file_digests: tuple[str, ...] = ()
    digest_algorithm: int | None = None
    file_error: str = ""

    def files(self) -> tuple[str, ...]:
        """Every path the package installed: ``DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`` (rpm >= 4).

        Packages built before compressed file names keep whole paths in
        OLDFILENAMES. Raise ``AnalyzerError`` when a file tag was unreadable or the arrays disagree.
        """
        if self.file_error:
            raise AnalyzerError(self.file_error)
        if not self.basenames:
            return self.old_filenames
        if len(self.dirindexes) != len(self.basenames):
            raise AnalyzerError(
                f"file list has {len(self.basenames)} base names but {len(self.dirindexes)} directory indexes"
            )
        out: list[str] = []
        for base, index in zip(self.basenames, self.dirindexes, strict=True):
            if index < 0 or index >= len(self.dirnames):
                raise AnalyzerError(f"file {base!r} names directory #{index} of {len(self.dirnames)}")
            out.append(self.dirnames[index] + base)
        return tuple(out)


def _cstring(blob: bytes, start: int, end: int) -> tuple[str, int]:
    """The NUL-terminated string at ``start`` (before ``end``) and the offset after its NUL."""
    nul = blob.find(b"\x00", start, end)
    if nul < 0:
        raise AnalyzerError(f"unterminated string at data offset {start}")
    return blob[start:nul].decode("utf-8", errors="replace"), nul + 1


def _cstrings(blob: bytes, start: int, end: int, count: int) -> tuple[str, ...]:
    """``count`` NUL-terminated strings one after the other from ``start`` (before ``end``)."""
    if count == 0:
        return ()
    parts = blob[start:end].split(b"\x00", count)
    if len(parts) <= count:
        raise AnalyzerError(f"unterminated string at data offset {start}")
    return tuple(part.decode("utf-8", errors="replace") for part in parts[:count])


def _decodable(tag: int, type_: int) -> bool:
    """True when ``parse_header`` decodes a value of this tag stored with this type (others are ignored)."""
    if tag in _STRING_TAGS:
        return type_ == TYPE_STRING
    if tag in _ARRAY_TAGS or tag == TAG_FILEDIGESTS:
        return type_ in (TYPE_STRING_ARRAY, TYPE_I18NSTRING, TYPE_STRING)
    return type_ == TYPE_INT32


def parse_header(blob: bytes, *, digests: bool = False) -> RpmHeader:
    """Decode the wanted tags of one header blob; raise ``AnalyzerError`` on anything malformed.

    FILEDIGESTS (one hex string per file) is decoded only with ``digests``. A
    malformed file-list tag does not fail the header: it is kept in
    ``file_error`` and raised by ``RpmHeader.files()``.
    """
    if len(blob) < 8:
        raise AnalyzerError(f"header blob of {len(blob)} bytes is truncated")
    il, dl = struct.unpack_from(">ii", blob, 0)
    if il < 1 or il > MAX_INDEX_ENTRIES:
        raise AnalyzerError(f"header has an absurd index entry count {il}")
    if dl < 0 or dl > MAX_DATA_BYTES:
        raise AnalyzerError(f"header has an absurd data length {dl}")
    data_start = 8 + 16 * il
    data_end = data_start + dl
    if data_end > len(blob):
        raise AnalyzerError(f"header blob is truncated: needs {data_end} bytes, has {len(blob)}")
    strings: dict[int, str] = {}
    arrays: dict[int, tuple[str, ...]] = {}
    ints: dict[int, int] = {}
    int_arrays: dict[int, tuple[int, ...]] = {}
    file_error = ""
    # Later ("dribble") entries override earlier ones: only the last entry of each tag is decoded,
    # so repeating a tag 65,535 times does not multiply the work.
    last: dict[int, tuple[int, int, int]] = {}
    for index in range(il):
        tag, type_, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * index)
        if (tag in _WANTED_TAGS or (digests and tag == TAG_FILEDIGESTS)) and _decodable(tag, type_):
            last[tag] = (type_, offset, count)
    for tag, (type_, offset, count) in last.items():
        try:
            if offset < 0 or offset >= dl:
                raise AnalyzerError(f"tag {tag} points outside the data store (offset {offset})")
            start = data_start + offset
            if tag in _STRING_TAGS and type_ == TYPE_STRING:
                strings[tag], _ = _cstring(blob, start, data_end)
            elif (tag in _ARRAY_TAGS or tag == TAG_FILEDIGESTS) and type_ in (
                TYPE_STRING_ARRAY,
                TYPE_I18NSTRING,
                TYPE_STRING,
            ):
                if count > dl - offset:
                    raise AnalyzerError(f"tag {tag} claims {count} strings in {dl - offset} bytes")
                arrays[tag] = _cstrings(blob, start, data_end, count if type_ != TYPE_STRING else 1)
            elif tag in _INT_TAGS and type_ == TYPE_INT32 and count >= 1:
                if start + 4 > data_end:
                    raise AnalyzerError(f"tag {tag} runs past the data store")
                (ints[tag],) = struct.unpack_from(">i", blob, start)
            elif tag in _INT_ARRAY_TAGS and type_ == TYPE_INT32:
                if count > (data_end - start) // 4:
                    raise AnalyzerError(f"tag {tag} claims {count} integers in {data_end - start} bytes")
                int_arrays[tag] = struct.unpack_from(f">{count}i", blob, start)
        except AnalyzerError as exc:
            if tag not in _FILE_TAGS:
                raise
            # a damaged file list costs the ownership of its files, not the package itself
            file_error = file_error or str(exc)

    def text(tag: int) -> str:
        value = strings.get(tag, "")
        return "" if value == "(none)" else value

    summaries = arrays.get(TAG_SUMMARY, ())
    return RpmHeader(
        name=text(TAG_NAME),
        version=text(TAG_VERSION),
        release=text(TAG_RELEASE),
        epoch=ints.get(TAG_EPOCH),
        arch=text(TAG_ARCH),
        source_rpm=text(TAG_SOURCERPM),
        license=text(TAG_LICENSE),
        vendor=text(TAG_VENDOR),
        summary=summaries[0] if summaries else "",
        modularity_label=text(TAG_MODULARITYLABEL),
        requires=arrays.get(TAG_REQUIRENAME, ()),
        basenames=arrays.get(TAG_BASENAMES, ()),
        dirnames=arrays.get(TAG_DIRNAMES, ()),
        dirindexes=int_arrays.get(TAG_DIRINDEXES, ()),
        old_filenames=arrays.get(TAG_OLDFILENAMES, ()),
        file_digests=arrays.get(TAG_FILEDIGESTS, ()),
        digest_algorithm=ints.get(TAG_FILEDIGESTALGO),
        file_error=file_error,
    )


def split_source_rpm(source_rpm: str) -> tuple[str, str, str]:
    """``"bash-5.1.8-6.el9.src.rpm"`` -> ``("bash", "5.1.8", "6.el9")``; unparseable -> empty strings."""
    base = source_rpm
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        return "", "", ""
    parts = base.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return "", "", ""
    return parts[0], parts[1], parts[2]


def requirement_names(requires: tuple[str, ...]) -> list[str]:
    """Package names among REQUIRENAME values: rpmlib(), paths, ``x(y)`` capabilities and sonames dropped."""
    names: list[str] = []
    for value in requires:
        if not value or value.startswith("/") or "(" in value or ")" in value:
            continue
        if ".so." in value or value.endswith(".so") or " " in value:
            continue
        if value not in names:
            names.append(value)
    return names


def rpm_purl(header: RpmHeader) -> str:
    """PURL as syft writes it: version-release, ``epoch`` and the whole SRPM file name as ``upstream``."""
    version = f"{header.version}-{header.release}" if header.release else header.version
    return purl_for(
        PackageType.RPM,
        header.name,
        version,
        namespace="redhat",
        qualifiers={
            "arch": header.arch,
            "epoch": "" if header.epoch is None else str(header.epoch),
            "upstream": header.source_rpm,
        },
    )


# --- containers -----------------------------------------------------------------------------


SQLITE_STEP_BUDGET = 200_000
"""Progress-handler calls (one per 1,000 SQLite VM instructions) one database may take: ~200M instructions."""


def sqlite_blobs(data: bytes) -> list[bytes]:
    """Header blobs of an rpmdb.sqlite, read from a private read-only temporary copy."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        # WAL mode -> legacy rollback mode: same committed content, no -wal/-shm needed.
        data = data[:18] + b"\x01\x01" + data[20:]
    with tempfile.TemporaryDirectory(prefix="shieldwall-rpmdb-") as folder:
        path = Path(folder) / "rpmdb.sqlite"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise AnalyzerError(f"cannot open rpm sqlite database: {exc}") from exc
        steps = [0]

        def budget() -> int:
            steps[0] += 1
            return 1 if steps[0] > SQLITE_STEP_BUDGET else 0  # non-zero interrupts the query

        try:
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA cell_size_check = ON")
            kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
            if kind is None:
                raise AnalyzerError("cannot read rpm sqlite database: it has no Packages table")
            if kind[0] != "table":
                raise AnalyzerError(f"rpm sqlite database: Packages is a {kind[0]}, not a table; not read")
            connection.set_progress_handler(budget, 1000)
            rows = connection.execute("SELECT blob FROM Packages ORDER BY hnum")
            blobs: list[bytes] = []
            seen = 0
            while batch := rows.fetchmany(512):
                seen += len(batch)
                blobs.extend(blob for (blob,) in batch if isinstance(blob, bytes))
                if seen > MAX_PACKAGES:
                    raise AnalyzerError(f"rpm database lists more than {MAX_PACKAGES} packages")
            return blobs
        except sqlite3.OperationalError as exc:
            if steps[0] > SQLITE_STEP_BUDGET:
                raise AnalyzerError("rpm sqlite database: reading it took too long (work budget exhausted)") from exc
            raise AnalyzerError(f"cannot read rpm sqlite database: {exc}") from exc
        except sqlite3.Error as exc:
            raise AnalyzerError(f"cannot read rpm sqlite database: {exc}") from exc
        finally:
            connection.close()


def bdb_blobs(data: bytes, warn: Callable[[str], None]) -> list[bytes]:
    """Header blobs of a Berkeley DB hash ``Packages`` file (see the module docstring)."""
    if len(data) < 512:
        raise AnalyzerError("file too small for a Berkeley DB database")
    if struct.unpack_from("<I", data, 12)[0] == _BDB_HASH_MAGIC:
        order = "<"
    elif struct.unpack_from(">I", data, 12)[0] == _BDB_HASH_MAGIC:
        order = ">"
    else:
        raise AnalyzerError("not a Berkeley DB hash database")
    page_size = struct.unpack_from(order + "I", data, 20)[0]
    if page_size not in _BDB_PAGE_SIZES:
        raise AnalyzerError(f"Berkeley DB page size {page_size} is invalid")
    if data[24] != 0:
        raise AnalyzerError("Berkeley DB database is encrypted")
    if data[25] != _BDB_HASH_META:
        raise AnalyzerError(f"Berkeley DB metadata page has type {data[25]}, not hash metadata")
    last_page = struct.unpack_from(order + "I", data, 32)[0]
    page_count = len(data) // page_size
    if last_page >= page_count:
        warn(f"Berkeley DB file is truncated: {page_count} of {last_page + 1} pages present")
    blobs: list[bytes] = []
    for number in range(1, min(last_page + 1, page_count)):
        page = data[number * page_size : (number + 1) * page_size]
        if page[25] not in _BDB_HASH_PAGES:
            continue
        entries = struct.unpack_from(order + "H", page, 20)[0]
        if entries % 2 or _BDB_PAGE_HEADER + 2 * entries > page_size:
            warn(f"Berkeley DB hash page {number} has an invalid item count {entries}")
            continue
        # Items alternate key, value; only values that live on overflow pages are headers.
        for item in range(1, entries, 2):
            offset = struct.unpack_from(order + "H", page, _BDB_PAGE_HEADER + 2 * item)[0]
            if offset >= page_size:
                warn(f"Berkeley DB hash page {number} item {item} points outside the page")
                continue
            if page[offset] != _BDB_HOFFPAGE:
                continue  # small values (H_KEYDATA) hold rpm's bookkeeping, never a header
            if offset + 12 > page_size:
                warn(f"Berkeley DB hash page {number} item {item} is cut off by the page end")
                continue
            first, total = struct.unpack_from(order + "II", page, offset + 4)
            try:
                blobs.append(_bdb_overflow(data, page_size, page_count, order, first, total))
            except AnalyzerError as exc:
                warn(f"Berkeley DB value on page {number}: {exc}")
            if len(blobs) > MAX_PACKAGES:
                raise AnalyzerError(f"rpm database lists more than {MAX_PACKAGES} packages")
    return blobs


def _bdb_overflow(data: bytes, page_size: int, page_count: int, order: str, first: int, total: int) -> bytes:
    if total > MAX_DATA_BYTES + 8 + 16 * MAX_INDEX_ENTRIES:
        raise AnalyzerError(f"value length {total} is absurd")
    chunks: list[bytes] = []
    size = 0
    seen: set[int] = set()
    number = first
    while number != 0:
        if number in seen or number >= page_count:
            raise AnalyzerError(f"overflow chain reaches invalid page {number}")
        seen.add(number)
        page = data[number * page_size : (number + 1) * page_size]
        if page[25] != _BDB_OVERFLOW:
            raise AnalyzerError(f"page {number} in an overflow chain has type {page[25]}")
        next_page = struct.unpack_from(order + "I", page, 16)[0]
        used = struct.unpack_from(order + "H", page, 22)[0]
        if used > page_size - _BDB_PAGE_HEADER:
            raise AnalyzerError(f"overflow page {number} claims {used} bytes")
        chunks.append(page[_BDB_PAGE_HEADER : _BDB_PAGE_HEADER + used])
        size += used
        if size > total:
            raise AnalyzerError(f"overflow chain is longer than the value ({total} bytes)")
        number = next_page
    if size != total:
        raise AnalyzerError(f"overflow chain holds {size} of {total} bytes")
    return b"".join(chunks)


def ndb_blobs(data: bytes, warn: Callable[[str], None]) -> list[bytes]:
    """Header blobs of an NDB ``Packages.db`` file (see the module docstring)."""
    if len(data) < 32 or data[:4] != _NDB_MAGIC:
        raise AnalyzerError("not an rpm NDB database")
    version, _generation, slot_pages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise AnalyzerError(f"NDB version {version} is not supported")
    if slot_pages == 0 or slot_pages > _NDB_MAX_SLOT_PAGES:
        raise AnalyzerError(f"NDB slot page count {slot_pages} is absurd")
    slots_end = slot_pages * 4096
    if slots_end > len(data):
        raise AnalyzerError("NDB file is truncated inside its slot pages")
    blobs: list[bytes] = []
    # The first two 16-byte slots hold the NDB header.
    for offset in range(32, slots_end, 16):
        magic = data[offset : offset + 4]
        if magic != _NDB_SLOT_MAGIC:
            warn(f"NDB slot at byte {offset} has a bad magic; remaining slots ignored")
            break
        package_index, block = struct.unpack_from("<II", data, offset + 4)
        if package_index == 0:
            continue
        start = block * 16
        if start + 16 > len(data) or data[start : start + 4] != _NDB_BLOB_MAGIC:
            warn(f"NDB package {package_index}: no blob at block {block}")
            continue
        blob_index, _checksum, length = struct.unpack_from("<III", data, start + 4)
        if blob_index != package_index or start + 16 + length > len(data):
            warn(f"NDB package {package_index}: blob header does not match or runs past the file")
            continue
        blobs.append(data[start + 16 : start + 16 + length])
        if len(blobs) > MAX_PACKAGES:
            raise AnalyzerError(f"rpm database lists more than {MAX_PACKAGES} packages")
    return blobs


_METADATA_ENDINGS = (".json", ".jar", ".gemspec", "go.mod")


def _language_metadata(path: str) -> bool:
    # a necessary condition of ``is_language_metadata`` first: most files of a distro are not metadata
    return ("-info" in path or path.endswith(_METADATA_ENDINGS)) and is_language_metadata(path)


def read_blobs(input: AnalysisInput, warn: Callable[[str], None]) -> list[bytes]:
    """The header blobs of an rpm database in any of the three formats, recognised by content."""
    data = input.read()
    if not data:
        return []
    if len(data) > MAX_DB_BYTES:
        raise AnalyzerError(f"rpm database {input.path} is larger than {MAX_DB_BYTES} bytes")
    if data.startswith(_SQLITE_MAGIC):
        return sqlite_blobs(data)
    if data.startswith(_NDB_MAGIC):
        return ndb_blobs(data, warn)
    return bdb_blobs(data, warn)


def _capped(warnings: list[str]) -> tuple[str, ...]:
    if len(warnings) > MAX_WARNINGS:
        warnings = [*warnings[:MAX_WARNINGS], f"{len(warnings) - MAX_WARNINGS} more warnings"]
    return tuple(warnings)


class RpmAnalyzer:
    """Installed RPM packages from any of the three rpm database formats.

    The format is recognised by content (SQLite, NDB and Berkeley DB magics),
    not by file name, so a database converted in place is still read. Each
    header's file list (BASENAMES/DIRNAMES/DIRINDEXES) also yields a
    ``FileRecord`` (manager ``rpm``) for every language-package metadata file
    the package installed (``*.dist-info``, ``*.egg-info``, jars...), so
    ``merge.os_owned`` matches e.g. ``python3-setuptools``'s dist-info through
    the rpm rather than PyPI's ranges, as for dpkg's ``.list`` and apk's
    ``installed``.
    """

    name = "rpm"
    version = 2

    def required(self, path: str, info: FileInfo) -> bool:
        return posixpath.dirname(path) in DB_DIRS and posixpath.basename(path) in DB_NAMES

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        warnings: list[str] = []
        warn = warnings.append
        blobs = read_blobs(input, warn)
        packages: list[Package] = []
        records: list[FileRecord] = []
        for number, blob in enumerate(blobs, start=1):
            try:
                header = parse_header(blob)
            except AnalyzerError as exc:
                warn(f"package header #{number} skipped: {exc}")
                continue
            if not header.name or not header.version:
                # A header without NAME/VERSION tags is damaged or not a package header.
                warn(f"package header #{number} has no name or version; skipped")
                continue
            packages.append(self._package(input.path, header))
            try:
                files = header.files()
            except AnalyzerError as exc:
                warn(f"{header.name}: file list unreadable ({exc}); the language packages it installed are not known")
                continue
            records += [FileRecord(path, "", header.name, "rpm") for path in files if _language_metadata(path)]
        if len(records) > MAX_RECORDS:
            warn(f"more than {MAX_RECORDS} language-package files owned by rpm packages; the rest are not marked")
            records = records[:MAX_RECORDS]
        if not packages and not warnings:
            return EMPTY
        return AnalysisResult(packages=tuple(packages), warnings=_capped(warnings), file_records=tuple(records))

    def _package(self, path: str, header: RpmHeader) -> Package:
        version = f"{header.version}-{header.release}" if header.release else header.version
        epoch = "" if header.epoch is None else f"{header.epoch}:"
        source_name, source_version, source_release = split_source_rpm(header.source_rpm)
        metadata = {
            key: value
            for key, value in (
                ("vendor", header.vendor),
                ("description", header.summary),
                ("modularity_label", header.modularity_label),
            )
            if value
        }
        return make_package(
            PackageType.RPM,
            header.name,
            epoch + version,
            path,
            self.name,
            purl=rpm_purl(header),
            licenses=[header.license] if header.license else [],
            source_name=source_name,
            source_version=f"{epoch}{source_version}-{source_release}" if source_name else "",
            arch=header.arch,
            depends_on=requirement_names(header.requires),
            metadata=metadata,
        )


class RpmDigestsAnalyzer:
    """Every file digest rpm recorded (FILEDIGESTS), for the secret detectors' ``distro content`` check.

    Scanner family ``secret``, like ``owned.PackageDigestsAnalyzer`` for
    dpkg and apk: it reads the database a second time only when secrets are
    scanned. Digests in algorithms the detectors do not compute (SHA-384,
    SHA-512...) are left out, so those files are never called distro content.
    """

    name = "rpm-file-digests"
    version = 1
    scanner = "secret"

    def required(self, path: str, info: FileInfo) -> bool:
        """The rpm databases ``RpmAnalyzer`` reads."""
        return posixpath.dirname(path) in DB_DIRS and posixpath.basename(path) in DB_NAMES

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One ``FileRecord`` (manager ``rpm``, ``<algorithm>:<hex>``) per regular file with a digest."""
        warnings: list[str] = []
        records: list[FileRecord] = []
        for number, blob in enumerate(read_blobs(input, warnings.append), start=1):
            try:
                header = parse_header(blob, digests=True)
                files = header.files()
            except AnalyzerError as exc:
                warnings.append(f"package header #{number}: file digests unreadable ({exc})")
                continue
            algorithm = DIGEST_ALGORITHMS.get(1 if header.digest_algorithm is None else header.digest_algorithm)
            if algorithm is None or not header.name:
                continue
            if len(header.file_digests) != len(files):
                warnings.append(f"{header.name}: {len(header.file_digests)} digests for {len(files)} files; not used")
                continue
            records += [
                FileRecord(path, f"{algorithm}:{digest.lower()}", header.name, "rpm")
                for path, digest in zip(files, header.file_digests, strict=True)
                if digest
            ]
            if len(records) > MAX_RECORDS:
                warnings.append(f"more than {MAX_RECORDS} rpm file digests; the rest are not compared")
                records = records[:MAX_RECORDS]
                break
        if not records and not warnings:
            return EMPTY
        return AnalysisResult(file_records=tuple(records), warnings=_capped(warnings))
