"""rpm database analyzer: header blobs in SQLite, Berkeley DB and NDB containers.

The fixtures are built here: ``header_blob`` writes the rpm header format
(region tag, index entries, aligned data store), and ``sqlite_db``,
``bdb_file`` and ``ndb_file`` wrap header blobs the way rpm stores them.
The integration tests build a real package with rpmbuild and a real
database with rpm (Debian package ``rpm``) and Berkeley DB's ``db5.3_load``
(Debian package ``db5.3-util``); they skip when those tools are missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.os.rpm import (
    RpmAnalyzer,
    RpmDigestsAnalyzer,
    parse_header,
    requirement_names,
    split_source_rpm,
)
from shieldwall.model import PackageType

SQLITE_PATH = "/var/lib/rpm/rpmdb.sqlite"
BDB_PATH = "/var/lib/rpm/Packages"
NDB_PATH = "/usr/lib/sysimage/rpm/Packages.db"

# --- writers ---------------------------------------------------------------------------------

RPM_INT16, RPM_INT32, RPM_STRING, RPM_BIN, RPM_STRING_ARRAY, RPM_I18NSTRING = 3, 4, 6, 7, 8, 9
REGION_TAG = 63
_ALIGN = {RPM_INT16: 2, RPM_INT32: 4}

Value = str | int | bytes | Sequence[str] | Sequence[int]


def _encode(type_: int, value: Value) -> tuple[bytes, int]:
    if type_ == RPM_STRING:
        assert isinstance(value, str)
        return value.encode() + b"\x00", 1
    if type_ in (RPM_STRING_ARRAY, RPM_I18NSTRING):
        assert isinstance(value, (list, tuple))
        return b"".join(str(v).encode() + b"\x00" for v in value), len(value)
    if type_ in (RPM_INT32, RPM_INT16):
        ints = [value] if isinstance(value, int) else [int(v) for v in value]
        code = "i" if type_ == RPM_INT32 else "H"
        return struct.pack(f">{len(ints)}{code}", *ints), len(ints)
    assert isinstance(value, bytes)
    return value, len(value)


def header_blob(entries: Sequence[tuple[int, int, Value]], *, region: bool = True) -> bytes:
    """An rpm header blob as stored in the database: il, dl, index entries, data store.

    With ``region``, the first index entry is the HEADERIMMUTABLE region tag
    whose value is a trailer entry at the end of the data store, as rpm writes it.
    """
    index: list[tuple[int, int, int, int]] = []
    store = bytearray()
    for tag, type_, value in sorted(entries, key=lambda e: e[0]):
        data, count = _encode(type_, value)
        align = _ALIGN.get(type_, 1)
        store += b"\x00" * (-len(store) % align)
        index.append((tag, type_, len(store), count))
        store += data
    if region:
        il = len(index) + 1
        trailer_offset = len(store)
        store += struct.pack(">iIiI", REGION_TAG, RPM_BIN, -16 * il, 16)
        index.insert(0, (REGION_TAG, RPM_BIN, trailer_offset, 16))
    head = struct.pack(">ii", len(index), len(store))
    return head + b"".join(struct.pack(">iIiI", *e) for e in index) + bytes(store)


def package_header(
    name: str,
    version: str,
    release: str,
    *,
    epoch: int | None = None,
    arch: str = "x86_64",
    license: str = "MIT",
    sourcerpm: str | None = None,
    requires: Sequence[str] = (),
    summary: str = "a test package",
    vendor: str = "Shieldwall",
) -> bytes:
    """A header blob with the tags an installed package has."""
    entries: list[tuple[int, int, Value]] = [
        (1000, RPM_STRING, name),
        (1001, RPM_STRING, version),
        (1002, RPM_STRING, release),
        (1004, RPM_I18NSTRING, [summary]),
        (1009, RPM_INT32, 12345),
        (1011, RPM_STRING, vendor),
        (1014, RPM_STRING, license),
        (1022, RPM_STRING, arch),
        (1044, RPM_STRING, f"{name}-{version}-{release}.src.rpm" if sourcerpm is None else sourcerpm),
        (1030, RPM_INT16, [0o100644, 0o100755]),
    ]
    if epoch is not None:
        entries.append((1003, RPM_INT32, epoch))
    if requires:
        entries.append((1049, RPM_STRING_ARRAY, list(requires)))
    return header_blob(entries)


def sqlite_db(tmp_path: Path, blobs: Sequence[bytes], *, wal: bool = False) -> bytes:
    """An rpmdb.sqlite with rpm's Packages table holding ``blobs``."""
    path = tmp_path / f"rpmdb-{len(list(tmp_path.iterdir()))}.sqlite"
    connection = sqlite3.connect(path)
    if wal:
        connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    connection.commit()
    connection.close()
    return path.read_bytes()


def bdb_file(values: Sequence[bytes], *, page_size: int = 512, order: str = "<") -> bytes:
    """A Berkeley DB hash file: metadata page, one hash page, overflow chains for ``values``.

    Like rpm's Packages file it also holds a small key-0 record (H_KEYDATA), which is not a header.
    """
    chunk = page_size - 26
    items: list[bytes] = [b"\x01" + struct.pack(order + "I", 0), b"\x01" + struct.pack(order + "I", 99)]
    overflow: list[bytes] = []
    next_page = 2
    for number, value in enumerate(values, start=1):
        pieces = [value[i : i + chunk] for i in range(0, len(value), chunk)] or [b""]
        items.append(b"\x01" + struct.pack(order + "I", number))
        items.append(b"\x03\x00\x00\x00" + struct.pack(order + "II", next_page, len(value)))
        for i, piece in enumerate(pieces):
            page = bytearray(page_size)
            following = next_page + 1 if i < len(pieces) - 1 else 0
            previous = next_page - 1 if i else 0
            struct.pack_into(order + "IIIHH", page, 8, next_page, previous, following, 1, len(piece))
            page[25] = 7
            page[26 : 26 + len(piece)] = piece
            overflow.append(bytes(page))
            next_page += 1
    hash_page = bytearray(page_size)
    end = page_size
    offsets: list[int] = []
    for item in items:
        end -= len(item)
        hash_page[end : end + len(item)] = item
        offsets.append(end)
    assert 26 + 2 * len(offsets) < end, "test values do not fit one hash page"
    struct.pack_into(order + "IIIHH", hash_page, 8, 1, 0, 0, len(offsets), end)
    hash_page[25] = 13
    for i, offset in enumerate(offsets):
        struct.pack_into(order + "H", hash_page, 26 + 2 * i, offset)
    meta = bytearray(page_size)
    struct.pack_into(order + "IIII", meta, 8, 0, 0x061561, 9, page_size)
    meta[25] = 8
    struct.pack_into(order + "I", meta, 32, len(overflow) + 1)
    return bytes(meta) + bytes(hash_page) + b"".join(overflow)


def ndb_file(blobs: Sequence[bytes]) -> bytes:
    """An NDB Packages.db: header, one 4 KiB slot page, then a blob header + blob per package."""
    slots = bytearray()
    area = bytearray()
    base = 4096
    for index, blob in enumerate(blobs, start=1):
        start = base + len(area)
        record = b"BlbS" + struct.pack("<III", index, 0, len(blob)) + blob
        record += b"\x00" * (-len(record) % 16) + b"\x00" * 16
        area += record
        slots += b"Slot" + struct.pack("<III", index, start // 16, len(record) // 16)
    while len(slots) < 4096 - 32:
        slots += b"Slot" + bytes(12)
    header = b"RpmP" + struct.pack("<III", 0, 1, 1) + bytes(16)
    return header + bytes(slots) + bytes(area)


def run(path: str, data: bytes) -> AnalysisResult:
    return RpmAnalyzer().analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


BASH = package_header(
    "bash",
    "5.1.8",
    "6.el9",
    license="GPLv3+",
    requires=[
        "/bin/sh",
        "config(bash)",
        "filesystem",
        "libc.so.6()(64bit)",
        "libc.so.6(GLIBC_2.34)(64bit)",
        "libtinfo.so.6",
        "rpmlib(CompressedFileNames)",
        "ncurses-libs",
        "filesystem",
    ],
)
SHADOW = package_header(
    "shadow-utils",
    "4.9",
    "8.el9",
    epoch=2,
    license="BSD and GPLv2+",
    sourcerpm="shadow-utils-4.9-8.el9.src.rpm",
    arch="x86_64",
)
PUBKEY = package_header("gpg-pubkey", "fd431d51", "4ae0493b", arch="(none)", sourcerpm="(none)", license="pubkey")


# --- header format ---------------------------------------------------------------------------


def test_header_round_trip() -> None:
    header = parse_header(SHADOW)
    assert (header.name, header.version, header.release, header.epoch) == ("shadow-utils", "4.9", "8.el9", 2)
    assert header.arch == "x86_64"
    assert header.license == "BSD and GPLv2+"
    assert header.source_rpm == "shadow-utils-4.9-8.el9.src.rpm"
    assert header.vendor == "Shieldwall"
    assert header.summary == "a test package"
    assert header.requires == ()


def test_header_without_region_tag() -> None:
    blob = header_blob([(1000, RPM_STRING, "n"), (1001, RPM_STRING, "1"), (1002, RPM_STRING, "1")], region=False)
    header = parse_header(blob)
    assert (header.name, header.version, header.release, header.epoch) == ("n", "1", "1", None)


def test_header_none_values_are_empty() -> None:
    header = parse_header(PUBKEY)
    assert header.source_rpm == ""
    assert header.arch == ""


def test_header_later_entry_overrides_earlier() -> None:
    # a "dribble" entry after the region replaces the region's value of the same tag
    blob = bytearray(header_blob([(1000, RPM_STRING, "old"), (1001, RPM_STRING, "1")], region=False))
    il, dl = struct.unpack_from(">ii", blob)
    extra_index = struct.pack(">iIiI", 1000, RPM_STRING, dl, 1)
    data_start = 8 + 16 * il
    new = (
        struct.pack(">ii", il + 1, dl + 4)
        + bytes(blob[8:data_start])
        + extra_index
        + bytes(blob[data_start:])
        + b"new\x00"
    )
    assert parse_header(new).name == "new"


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x00\x00\x00", "truncated"),
        (struct.pack(">ii", 0, 0), "index entry count"),
        (struct.pack(">ii", 0x10000000, 16), "index entry count"),
        (struct.pack(">ii", 1, 0x7FFFFFFF), "data length"),
        (BASH[: len(BASH) - 10], "truncated"),
        (struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1000, RPM_STRING, 0, 1) + b"abcd", "unterminated"),
        (struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1000, RPM_STRING, 40, 1) + b"abc\x00", "outside"),
        (struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1000, RPM_STRING, -4, 1) + b"abc\x00", "outside"),
        (
            struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1049, RPM_STRING_ARRAY, 0, 99999) + b"a\x00b\x00",
            "claims",
        ),
        (struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1003, RPM_INT32, 2, 1) + b"\x00\x00\x00\x01", "runs past"),
    ],
)
def test_corrupt_headers_raise_analyzer_error(blob: bytes, message: str) -> None:
    with pytest.raises(AnalyzerError, match=message):
        parse_header(blob)


@pytest.mark.parametrize(
    ("srpm", "expected"),
    [
        ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8", "6.el9")),
        ("python3.11-pip-22.3.1-4.el9.nosrc.rpm", ("python3.11-pip", "22.3.1", "4.el9")),
        ("", ("", "", "")),
        ("weird.src.rpm", ("", "", "")),
        ("bash-5.1.8-6.el9.x86_64.rpm", ("", "", "")),
    ],
)
def test_split_source_rpm(srpm: str, expected: tuple[str, str, str]) -> None:
    assert split_source_rpm(srpm) == expected


def test_requirement_names_keep_plain_package_names() -> None:
    assert requirement_names(parse_header(BASH).requires) == ["filesystem", "ncurses-libs"]


# --- sqlite ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wal", [False, True])
def test_sqlite_round_trip(tmp_path: Path, wal: bool) -> None:
    data = sqlite_db(tmp_path, [BASH, SHADOW, PUBKEY], wal=wal)
    assert data[18:20] == (b"\x02\x02" if wal else b"\x01\x01")  # rpm itself leaves WAL mode on
    result = run(SQLITE_PATH, data)
    assert result.warnings == ()
    bash, shadow, pubkey = result.packages
    assert bash.type is PackageType.RPM
    assert (bash.name, bash.version, bash.arch) == ("bash", "5.1.8-6.el9", "x86_64")
    assert bash.purl == "pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&upstream=bash-5.1.8-6.el9.src.rpm"
    assert (bash.source_name, bash.source_version) == ("bash", "5.1.8-6.el9")
    assert bash.licenses == ("GPLv3+",)
    assert bash.depends_on == ("filesystem", "ncurses-libs")
    assert bash.found_by == "rpm"
    assert bash.locations[0].path == SQLITE_PATH
    assert dict(bash.metadata) == {"vendor": "Shieldwall", "description": "a test package"}
    assert shadow.version == "2:4.9-8.el9"
    assert shadow.source_version == "2:4.9-8.el9"
    assert shadow.purl == (
        "pkg:rpm/redhat/shadow-utils@4.9-8.el9?arch=x86_64&epoch=2&upstream=shadow-utils-4.9-8.el9.src.rpm"
    )
    assert pubkey.purl == "pkg:rpm/redhat/gpg-pubkey@fd431d51-4ae0493b"
    assert (pubkey.source_name, pubkey.source_version) == ("", "")


def test_sqlite_epoch_zero_is_kept(tmp_path: Path) -> None:
    blob = package_header("zlib", "1.2.11", "40.el9", epoch=0)
    [package] = run(SQLITE_PATH, sqlite_db(tmp_path, [blob])).packages
    assert package.version == "0:1.2.11-40.el9"
    assert "epoch=0" in package.purl


def test_sqlite_corrupt_blobs_are_warnings(tmp_path: Path) -> None:
    blobs = [BASH[:100], b"garbage", SHADOW, header_blob([(1014, RPM_STRING, "MIT")])]
    result = run(SQLITE_PATH, sqlite_db(tmp_path, blobs))
    assert [p.name for p in result.packages] == ["shadow-utils"]
    assert len(result.warnings) == 3
    assert "#1 skipped" in result.warnings[0] and "truncated" in result.warnings[0]
    assert "#2 skipped" in result.warnings[1]
    assert "no name or version" in result.warnings[2]


def test_sqlite_empty_database(tmp_path: Path) -> None:
    assert run(SQLITE_PATH, sqlite_db(tmp_path, [])).empty


def test_sqlite_without_packages_table_is_an_analyzer_error(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE Other (x)")
    connection.commit()
    connection.close()
    with pytest.raises(AnalyzerError, match="cannot read"):
        run(SQLITE_PATH, path.read_bytes())


def test_sqlite_truncated_file_is_an_analyzer_error(tmp_path: Path) -> None:
    data = sqlite_db(tmp_path, [BASH, SHADOW])
    with pytest.raises(AnalyzerError):
        run(SQLITE_PATH, data[:150])


def test_sqlite_copy_is_private_read_only_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sqlite_db(tmp_path, [BASH])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[tuple[str, int, int]] = []
    real_connect = sqlite3.connect

    def spy(database: str, uri: bool = False) -> sqlite3.Connection:
        parsed = urllib.parse.urlparse(database)
        path = urllib.parse.unquote(parsed.path)
        seen.append((parsed.query, os.stat(path).st_mode & 0o777, os.stat(os.path.dirname(path)).st_mode & 0o777))
        return real_connect(database, uri=uri)

    monkeypatch.setattr(sqlite3, "connect", spy)
    assert len(run(SQLITE_PATH, data).packages) == 1
    assert seen == [("mode=ro&immutable=1", 0o600, 0o700)]
    assert list(scratch.iterdir()) == []


# --- Berkeley DB and NDB ---------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
def test_bdb_round_trip(order: str) -> None:
    big = package_header("kernel-core", "5.14.0", "70.el9", requires=[f"dep{i}" for i in range(200)])
    assert len(big) > 3 * 512  # spans several overflow pages
    result = run(BDB_PATH, bdb_file([BASH, SHADOW, big], order=order))
    assert result.warnings == ()
    assert [p.name for p in result.packages] == ["bash", "shadow-utils", "kernel-core"]
    assert len(result.packages[2].depends_on) == 200


def test_bdb_overflow_loop_is_a_warning() -> None:
    data = bytearray(bdb_file([BASH, SHADOW]))
    # make the first overflow page of BASH point to itself
    struct.pack_into("<I", data, 2 * 512 + 16, 2)
    result = run(BDB_PATH, bytes(data))
    assert [p.name for p in result.packages] == ["shadow-utils"]
    assert any("invalid page" in w for w in result.warnings)


def test_bdb_truncated_file_is_a_warning() -> None:
    data = bdb_file([SHADOW, BASH])
    result = run(BDB_PATH, data[: len(data) - 512])
    assert [p.name for p in result.packages] == ["shadow-utils"]
    assert any("truncated" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a database" * 100, "not a Berkeley DB"),
        (b"short", "too small"),
    ],
)
def test_bdb_invalid_files_are_analyzer_errors(data: bytes, message: str) -> None:
    with pytest.raises(AnalyzerError, match=message):
        run(BDB_PATH, data)


def test_bdb_bad_page_size_is_an_analyzer_error() -> None:
    data = bytearray(bdb_file([BASH]))
    struct.pack_into("<I", data, 20, 1000)
    with pytest.raises(AnalyzerError, match="page size"):
        run(BDB_PATH, bytes(data))


def test_ndb_round_trip() -> None:
    result = run(NDB_PATH, ndb_file([BASH, SHADOW]))
    assert result.warnings == ()
    assert [p.version for p in result.packages] == ["5.1.8-6.el9", "2:4.9-8.el9"]
    assert result.packages[0].locations[0].path == NDB_PATH


def test_ndb_bad_slot_is_a_warning() -> None:
    data = bytearray(ndb_file([BASH, SHADOW]))
    data[32 + 16 : 32 + 20] = b"XXXX"
    result = run(NDB_PATH, bytes(data))
    assert [p.name for p in result.packages] == ["bash"]
    assert any("bad magic" in w for w in result.warnings)


def test_ndb_absurd_slot_page_count_is_an_analyzer_error() -> None:
    data = bytearray(ndb_file([BASH]))
    struct.pack_into("<I", data, 12, 1_000_000)
    with pytest.raises(AnalyzerError, match="absurd"):
        run(NDB_PATH, bytes(data))


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/var/lib/rpm/rpmdb.sqlite", True),
        ("/usr/lib/sysimage/rpm/rpmdb.sqlite", True),
        ("/var/lib/rpm/Packages", True),
        ("/usr/lib/sysimage/rpm/Packages.db", True),
        ("/var/lib/rpm/Basenames", False),
        ("/var/lib/rpm/rpmdb.sqlite-wal", False),
        ("/opt/var/lib/rpm/rpmdb.sqlite", False),
    ],
)
def test_required(path: str, wanted: bool) -> None:
    assert RpmAnalyzer().required(path, FileInfo(path, 1)) is wanted


def test_empty_file_is_empty_result() -> None:
    assert run(SQLITE_PATH, b"").empty


# --- real rpm tooling ------------------------------------------------------------------------

SPEC = """\
Name: shieldwall-hello
Version: 1.2.3
Release: 4.sw1
Epoch: 2
Summary: A tiny test package
License: MIT AND (Apache-2.0 OR BSD-3-Clause)
Vendor: Shieldwall Tests
BuildArch: noarch
Requires: bash, coreutils >= 8.0, /bin/sh

%description
A tiny test package.

%install
mkdir -p %{buildroot}/usr/share/shieldwall-hello
echo hello > %{buildroot}/usr/share/shieldwall-hello/hello.txt

%files
/usr/share/shieldwall-hello/hello.txt
"""


@pytest.fixture(scope="module")
def real_rpmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An rpmdb.sqlite made by rpm itself, holding one package built by rpmbuild."""
    if not (shutil.which("rpm") and shutil.which("rpmbuild")):
        pytest.skip("rpm and rpmbuild are not installed (Debian package: rpm)")
    work = tmp_path_factory.mktemp("rpm")
    (work / "hello.spec").write_text(SPEC)
    env = {**os.environ, "HOME": str(work)}
    define = ["--define", f"_topdir {work / 'top'}"]
    subprocess.run(
        ["rpmbuild", *define, "-bb", str(work / "hello.spec")], check=True, capture_output=True, env=env, timeout=300
    )
    [package] = (work / "top" / "RPMS" / "noarch").glob("*.rpm")
    dbpath = work / "db"
    dbpath.mkdir()
    subprocess.run(["rpm", "--dbpath", str(dbpath), "--initdb"], check=True, capture_output=True, env=env, timeout=120)
    subprocess.run(
        ["rpm", "--dbpath", str(dbpath), "-i", "--justdb", "--nodeps", str(package)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    return dbpath / "rpmdb.sqlite"


def _check_hello(result: AnalysisResult) -> None:
    assert result.warnings == ()
    [package] = result.packages
    assert package.name == "shieldwall-hello"
    assert package.version == "2:1.2.3-4.sw1"
    assert package.arch == "noarch"
    assert package.licenses == ("MIT AND (Apache-2.0 OR BSD-3-Clause)",)
    assert (package.source_name, package.source_version) == ("shieldwall-hello", "2:1.2.3-4.sw1")
    assert package.depends_on == ("bash", "coreutils")
    assert package.purl == (
        "pkg:rpm/redhat/shieldwall-hello@1.2.3-4.sw1?arch=noarch&epoch=2&upstream=shieldwall-hello-1.2.3-4.sw1.src.rpm"
    )
    assert dict(package.metadata)["vendor"] == "Shieldwall Tests"


@pytest.mark.integration
def test_real_rpm_sqlite_database(real_rpmdb: Path) -> None:
    _check_hello(run(SQLITE_PATH, real_rpmdb.read_bytes()))


@pytest.mark.integration
@pytest.mark.parametrize("page_size", [512, 4096])
def test_real_berkeley_db_file(real_rpmdb: Path, tmp_path: Path, page_size: int) -> None:
    """The real header blob, stored in a hash database written by Berkeley DB itself."""
    loader = shutil.which("db5.3_load") or shutil.which("db_load")
    if not loader:
        pytest.skip("db_load is not installed (Debian package: db5.3-util)")
    connection = sqlite3.connect(f"{real_rpmdb.as_uri()}?mode=ro&immutable=1", uri=True)
    rows = connection.execute("SELECT hnum, blob FROM Packages").fetchall()
    connection.close()
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={page_size}", "HEADER=END"]
    lines += [" " + struct.pack("<I", 0).hex(), " " + struct.pack("<I", len(rows) + 1).hex()]
    for number, blob in rows:
        lines += [" " + struct.pack("<I", number).hex(), " " + bytes(blob).hex()]
    lines.append("DATA=END")
    (tmp_path / "dump.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [loader, "-f", str(tmp_path / "dump.txt"), str(tmp_path / "Packages")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    _check_hello(run(BDB_PATH, (tmp_path / "Packages").read_bytes()))


# --- file lists: which language packages an rpm installed ------------------------------------

SITE = "/usr/lib/python3.9/site-packages/"
OWNED_HEADER = Path(__file__).resolve().parents[3] / "fixtures" / "os" / "rpm-owned" / "python3-setuptools.header"


def _with_files(
    blob_entries: list[tuple[int, int, Value]],
    basenames: Sequence[str],
    dirnames: Sequence[str],
    indexes: Sequence[int],
) -> bytes:
    files: list[tuple[int, int, Value]] = [
        (1116, RPM_INT32, list(indexes)),
        (1117, RPM_STRING_ARRAY, list(basenames)),
        (1118, RPM_STRING_ARRAY, list(dirnames)),
    ]
    return header_blob([*blob_entries, *files])


_BASE: list[tuple[int, int, Value]] = [(1000, RPM_STRING, "python3-pip"), (1001, RPM_STRING, "21.2.3")]
_BASE += [(1002, RPM_STRING, "8.el9"), (1022, RPM_STRING, "noarch")]


def test_file_list_yields_language_metadata_records(tmp_path: Path) -> None:
    blob = _with_files(
        _BASE,
        ["pip-21.2.3.dist-info", "METADATA", "__init__.py", "pip3", "pip.jar", "package.json", "info.json"],
        [SITE, SITE + "pip-21.2.3.dist-info/", SITE + "pip/", "/usr/bin/", "/usr/share/java/", "/usr/share/pip/"],
        [0, 1, 2, 3, 4, 5, 5],
    )
    header = parse_header(blob)
    assert header.files() == (
        SITE + "pip-21.2.3.dist-info",
        SITE + "pip-21.2.3.dist-info/METADATA",
        SITE + "pip/__init__.py",
        "/usr/bin/pip3",
        "/usr/share/java/pip.jar",
        "/usr/share/pip/package.json",
        "/usr/share/pip/info.json",
    )
    result = run(SQLITE_PATH, sqlite_db(tmp_path, [blob, BASH]))
    assert result.warnings == ()
    assert [(r.path, r.package, r.manager, r.digest) for r in result.file_records] == [
        (SITE + "pip-21.2.3.dist-info", "python3-pip", "rpm", ""),
        (SITE + "pip-21.2.3.dist-info/METADATA", "python3-pip", "rpm", ""),
        ("/usr/share/java/pip.jar", "python3-pip", "rpm", ""),
        ("/usr/share/pip/package.json", "python3-pip", "rpm", ""),
    ]


def test_old_filenames_are_read_when_there_are_no_basenames() -> None:
    blob = header_blob([*_BASE, (1027, RPM_STRING_ARRAY, [SITE + "pip-9.0.egg-info/PKG-INFO", "/usr/bin/pip"])])
    assert parse_header(blob).files() == (SITE + "pip-9.0.egg-info/PKG-INFO", "/usr/bin/pip")


@pytest.mark.parametrize(
    ("basenames", "dirnames", "indexes", "message"),
    [
        (["METADATA"], [SITE], [1], "names directory #1 of 1"),
        (["METADATA"], [SITE], [-1], "names directory #-1"),
        (["METADATA", "RECORD"], [SITE], [0], "2 base names but 1 directory indexes"),
    ],
)
def test_inconsistent_file_list_is_a_warning_and_keeps_the_package(
    tmp_path: Path, basenames: list[str], dirnames: list[str], indexes: list[int], message: str
) -> None:
    result = run(SQLITE_PATH, sqlite_db(tmp_path, [_with_files(_BASE, basenames, dirnames, indexes)]))
    assert [p.name for p in result.packages] == ["python3-pip"]
    assert result.file_records == ()
    assert len(result.warnings) == 1 and message in result.warnings[0] and "file list unreadable" in result.warnings[0]


def test_absurd_file_tag_counts_cost_only_the_file_list(tmp_path: Path) -> None:
    """DIRINDEXES claiming more integers than the data store holds, BASENAMES with an unterminated string."""
    blob = bytearray(_with_files(_BASE, ["METADATA"], [SITE], [0]))
    il = struct.unpack_from(">i", blob, 0)[0]
    for index in range(il):
        tag = struct.unpack_from(">i", blob, 8 + 16 * index)[0]
        if tag == 1116:
            struct.pack_into(">I", blob, 8 + 16 * index + 12, 0x7FFFFFFF)
    result = run(SQLITE_PATH, sqlite_db(tmp_path, [bytes(blob)]))
    assert [p.name for p in result.packages] == ["python3-pip"] and result.file_records == ()
    assert "claims 2147483647 integers" in result.warnings[0]
    cut = _with_files(_BASE, ["METADATA"], [SITE], [0])
    cut = cut[: cut.rindex(SITE.encode()) + len(SITE)] + b"x" * 32  # DIRNAMES is last: its NUL is gone
    il = struct.unpack_from(">i", cut, 0)[0]
    cut = struct.pack(">ii", il, len(cut) - 8 - 16 * il) + cut[8:]
    result = run(SQLITE_PATH, sqlite_db(tmp_path, [cut]))
    assert [p.name for p in result.packages] == ["python3-pip"] and result.file_records == ()
    assert "unterminated string" in result.warnings[0]


@pytest.mark.parametrize("container", ["sqlite", "bdb", "ndb"])
def test_real_header_file_list_in_every_container(tmp_path: Path, container: str) -> None:
    """rpm's own header for python3-setuptools (committed fixture) names its dist-info in all three formats."""
    blob = OWNED_HEADER.read_bytes()
    if container == "sqlite":
        result = run(SQLITE_PATH, sqlite_db(tmp_path, [blob]))
    elif container == "bdb":
        result = run(BDB_PATH, bdb_file([blob]))
    else:
        result = run(NDB_PATH, ndb_file([blob]))
    assert result.warnings == ()
    assert [p.version for p in result.packages] == ["53.0.0-12.el9"]
    assert {(r.path, r.package) for r in result.file_records} == {
        (SITE + "setuptools-53.0.0.dist-info", "python3-setuptools"),
        (SITE + "setuptools-53.0.0.dist-info/METADATA", "python3-setuptools"),
        (SITE + "setuptools-53.0.0.dist-info/top_level.txt", "python3-setuptools"),
    }


def _digests(path: str, data: bytes) -> AnalysisResult:
    return RpmDigestsAnalyzer().analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def test_digests_of_the_real_header(tmp_path: Path) -> None:
    """rpm wrote SHA-256 (FILEDIGESTALGO 8) for the regular files; directories have none."""
    result = _digests(SQLITE_PATH, sqlite_db(tmp_path, [OWNED_HEADER.read_bytes(), BASH]))
    assert result.warnings == ()
    by_path = {r.path: r for r in result.file_records}
    init = by_path[SITE + "setuptools/__init__.py"]
    assert init.digest == "sha256:" + hashlib.sha256(b"# setuptools\n").hexdigest()
    assert (init.package, init.manager) == ("python3-setuptools", "rpm")
    assert SITE + "setuptools" not in by_path and len(by_path) == 3
    assert RpmDigestsAnalyzer().required(SQLITE_PATH, FileInfo(SQLITE_PATH, 1))
    # the inventory analyzer does not decode digests
    assert all(r.digest == "" for r in run(SQLITE_PATH, sqlite_db(tmp_path, [OWNED_HEADER.read_bytes()])).file_records)


@pytest.mark.parametrize(("algorithm", "prefix"), [(None, "md5:"), (1, "md5:"), (2, "sha1:"), (8, "sha256:"), (10, "")])
def test_digest_algorithms(tmp_path: Path, algorithm: int | None, prefix: str) -> None:
    entries: list[tuple[int, int, Value]] = [*_BASE, (1035, RPM_STRING_ARRAY, ["ABCDEF", ""])]
    if algorithm is not None:
        entries.append((5011, RPM_INT32, algorithm))
    blob = _with_files(entries, ["a.py", "dir"], [SITE], [0, 0])
    records = _digests(SQLITE_PATH, sqlite_db(tmp_path, [blob])).file_records
    # SHA-512 (10) is not computed for flagged files, so it is never compared
    assert [r.digest for r in records] == ([prefix + "abcdef"] if prefix else [])


def test_digest_count_mismatch_is_a_warning(tmp_path: Path) -> None:
    blob = _with_files([*_BASE, (1035, RPM_STRING_ARRAY, ["ab"])], ["a.py", "b.py"], [SITE], [0, 0])
    result = _digests(SQLITE_PATH, sqlite_db(tmp_path, [blob]))
    assert result.file_records == () and "1 digests for 2 files" in result.warnings[0]


def test_a_tag_repeated_in_every_index_entry_is_decoded_once() -> None:
    """65,535 BASENAMES entries over one large array: only the last is decoded (work stays linear)."""
    names = b"x\x00" * 50_000
    il = 0xFFFF
    index = struct.pack(">iIiI", 1117, RPM_STRING_ARRAY, 0, 50_000) * (il - 1)
    index += struct.pack(">iIiI", 1000, RPM_STRING, len(names), 1)
    blob = struct.pack(">ii", il, len(names) + 4) + index + names + b"big\x00"
    header = parse_header(blob)
    assert header.name == "big" and len(header.basenames) == 50_000
