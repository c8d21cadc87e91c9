"""Feed archives and directories are read without trusting them."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError, UnsafeInputError
from shieldwall.vulndb.importers.archive import ArchiveLimits, iter_zip_members, walk_files
from shieldwall.vulndb.importers.osv_feed import iter_osv_dir, iter_osv_zip


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def _record(ident: str) -> bytes:
    return json.dumps({"id": ident, "affected": [{"package": {"ecosystem": "npm", "name": "p"}}]}).encode()


def test_osv_zip_members_are_read_in_memory() -> None:
    archive = _zip({"A-1.json": _record("A-1"), "dir/A-2.json": _record("A-2"), "README.txt": b"ignored"})
    warnings: list[str] = []
    assert [a.id for a in iter_osv_zip(archive, warnings, source="s", label="all.zip")] == ["A-1", "A-2"]
    assert warnings == []


def test_a_broken_member_is_skipped_with_a_warning() -> None:
    archive = _zip({"A-1.json": _record("A-1"), "B.json": b"{nope", "C.json": b'{"summary": "no id"}'})
    warnings: list[str] = []
    assert [a.id for a in iter_osv_zip(archive, warnings, label="all.zip")] == ["A-1"]
    assert len(warnings) == 2 and all("all.zip!" in w for w in warnings)


@pytest.mark.parametrize(
    "name", ["../evil.json", "a/../../evil.json", "/etc/evil.json", "C:/evil.json", "..\\evil.json"]
)
def test_traversal_names_refuse_the_archive(name: str) -> None:
    archive = _zip({"ok.json": _record("OK-1"), name: _record("EVIL-1")})
    with pytest.raises(UnsafeInputError, match="escapes"):
        list(iter_zip_members(archive, (".json",)))


def test_too_many_members() -> None:
    archive = _zip({f"{i}.json": _record(str(i)) for i in range(5)})
    with pytest.raises(UnsafeInputError, match="members"):
        list(iter_zip_members(archive, (".json",), ArchiveLimits(max_members=4)))


def test_declared_size_above_the_member_limit() -> None:
    archive = _zip({"big.json": b" " * 2048})
    with pytest.raises(UnsafeInputError, match="per-member limit"):
        list(iter_zip_members(archive, (".json",), ArchiveLimits(max_member_bytes=1024)))


def test_total_size_limit() -> None:
    archive = _zip({f"{i}.json": b" " * 1000 for i in range(4)})
    with pytest.raises(UnsafeInputError, match="in all"):
        list(iter_zip_members(archive, (".json",), ArchiveLimits(max_total_bytes=3000)))


def test_zip_bomb_ratio_is_refused_before_reading() -> None:
    archive = _zip({"bomb.json": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(UnsafeInputError, match="ratio"):
        list(iter_zip_members(archive, (".json",)))


def test_a_member_longer_than_its_header_says_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x.json", b"A" * 100)
    raw = bytearray(buf.getvalue())
    # shrink the declared size in the central directory (offset 24 of the entry) to 10 bytes
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises((UnsafeInputError, CorruptInputError)):
        list(iter_zip_members(io.BytesIO(bytes(raw)), (".json",)))


def test_not_a_zip() -> None:
    with pytest.raises(CorruptInputError, match="zip"):
        list(iter_zip_members(io.BytesIO(b"plain text"), (".json",), label="x.zip"))


def test_directory_walk_skips_symlinks_and_hidden_dirs(tmp_path: Path) -> None:
    root = tmp_path / "feed"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "sub" / "A-1.json").write_bytes(_record("A-1"))
    (root / ".git" / "H-1.json").write_bytes(_record("H-1"))
    outside = tmp_path / "outside.json"
    outside.write_bytes(_record("OUT-1"))
    os.symlink(outside, root / "link.json")
    os.symlink(tmp_path, root / "loop")
    assert [p.name for p, _ in walk_files(root, (".json",))] == ["A-1.json"]
    warnings: list[str] = []
    assert [a.id for a in iter_osv_dir(root, warnings)] == ["A-1"]


def test_directory_files_above_the_limit_are_reported(tmp_path: Path) -> None:
    (tmp_path / "A-1.json").write_bytes(_record("A-1"))
    (tmp_path / "B-1.json").write_bytes(b" " * 5000 + _record("B-1"))
    warnings: list[str] = []
    ids = [a.id for a in iter_osv_dir(tmp_path, warnings, limits=ArchiveLimits(max_member_bytes=4096))]
    assert ids == ["A-1"] and len(warnings) == 1 and "B-1.json" in warnings[0]
