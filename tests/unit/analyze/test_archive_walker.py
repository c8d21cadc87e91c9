"""The shared in-memory archive walker: formats, nesting, and the limits that stop bombs."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

from shieldwall.analyze.archive import (
    ArchiveLimits,
    archive_format,
    decompress_bounded,
    is_archive,
    iter_archive_members,
)


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def listing(data: bytes, name: str = "/a", limits: ArchiveLimits | None = None) -> list[tuple[str, bytes, str]]:
    members = iter_archive_members(data, name, limits or ArchiveLimits())
    return [(m.path, m.data, m.skipped) for m in members]


def test_formats_are_sniffed_from_magic_bytes_not_names() -> None:
    assert archive_format(make_zip({"x": b"1"})) == "zip"
    assert archive_format(make_tar({"x": b"1"})) == "tar"
    assert archive_format(gzip.compress(b"x")) == "gzip"
    assert archive_format(bz2.compress(b"x")) == "bzip2"
    assert archive_format(lzma.compress(b"x")) == "xz"
    assert archive_format(b"BZh but not bzip2 at all") is None
    assert not is_archive(b"#!/bin/sh\necho hi\n")


def test_plain_file_yields_nothing() -> None:
    assert listing(b"hello world") == []


def test_zip_members_are_named_outer_bang_inner() -> None:
    data = make_zip({"dir/a.txt": b"A", "b.bin": b"B"})
    assert listing(data, "/srv/app.zip") == [("/srv/app.zip!dir/a.txt", b"A", ""), ("/srv/app.zip!b.bin", b"B", "")]


def test_zip_with_bzip2_and_lzma_members() -> None:
    assert listing(make_zip({"a": b"A" * 100}, zipfile.ZIP_BZIP2)) == [("/a!a", b"A" * 100, "")]
    assert listing(make_zip({"a": b"A" * 100}, zipfile.ZIP_LZMA)) == [("/a!a", b"A" * 100, "")]


def test_tar_gz_is_one_container_level() -> None:
    data = gzip.compress(make_tar({"etc/x": b"X", "y": b"Y"}))
    assert listing(data, "/img/layer.tar.gz") == [
        ("/img/layer.tar.gz!etc/x", b"X", ""),
        ("/img/layer.tar.gz!y", b"Y", ""),
    ]


def test_tar_bz2_and_xz() -> None:
    assert listing(bz2.compress(make_tar({"x": b"X"})), "/t.tbz2") == [("/t.tbz2!x", b"X", "")]
    assert listing(lzma.compress(make_tar({"x": b"X"})), "/t.tar.xz") == [("/t.tar.xz!x", b"X", "")]


def test_single_compressed_streams_name_the_member_after_the_file() -> None:
    assert listing(gzip.compress(b"payload"), "/d/tool.gz") == [("/d/tool.gz!tool", b"payload", "")]
    assert listing(bz2.compress(b"payload"), "/d/clam.exe.bz2") == [("/d/clam.exe.bz2!clam.exe", b"payload", "")]
    assert listing(lzma.compress(b"payload"), "/d/noext") == [("/d/noext!noext", b"payload", "")]


def test_concatenated_gzip_streams_are_joined() -> None:
    data = gzip.compress(b"one ") + gzip.compress(b"two")
    assert listing(data, "/x.gz") == [("/x.gz!x", b"one two", "")]


def test_nested_archives_are_yielded_and_descended() -> None:
    inner = make_zip({"deep/file.txt": b"DEEP"})
    middle = make_tar({"lib/inner.jar": inner})
    outer = make_zip({"middle.tar": middle})
    paths = [(p, skipped) for p, _, skipped in listing(outer, "/o.zip")]
    assert paths == [
        ("/o.zip!middle.tar", ""),
        ("/o.zip!middle.tar!lib/inner.jar", ""),
        ("/o.zip!middle.tar!lib/inner.jar!deep/file.txt", ""),
    ]


def test_depth_limit_stops_descending_with_a_reason() -> None:
    data = b"core"
    for level in range(5):
        data = make_zip({f"l{level}.zip": data})
    members = listing(data, "/z", ArchiveLimits(max_depth=2))
    assert [p for p, d, s in members if not s] == ["/z!l4.zip", "/z!l4.zip!l3.zip"]
    skipped = [(p, s) for p, d, s in members if s]
    assert skipped == [("/z!l4.zip!l3.zip", "archive nested deeper than 2 levels not opened")]


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    members = listing(bomb, "/bomb.gz", ArchiveLimits(max_member_bytes=1024 * 1024))
    assert len(members) == 1
    _path, data, skipped = members[0]
    assert data == b"" and "limit" in skipped


def test_zip_member_larger_than_its_declared_size_is_cut() -> None:
    data = bytearray(make_zip({"a": b"A" * 5000}, zipfile.ZIP_DEFLATED))
    # lie in the central directory: claim 10 bytes uncompressed
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    members = listing(bytes(data), "/z", ArchiveLimits(max_member_bytes=100))
    assert members[0][1] == b""
    assert members[0][2]


def test_total_byte_budget_is_shared_by_all_members() -> None:
    data = make_zip({f"m{i}": b"x" * 1000 for i in range(10)})
    members = listing(data, "/z", ArchiveLimits(max_total_bytes=3500))
    read = [p for p, d, s in members if d]
    refused = [s for p, d, s in members if s]
    assert len(read) == 3
    assert len(refused) == 7 and all("total limit" in s for s in refused)


def test_member_count_limit() -> None:
    data = make_zip({f"m{i}": b"x" for i in range(50)})
    members = listing(data, "/z", ArchiveLimits(max_members=10))
    assert len([m for m in members if not m[2]]) == 10
    assert members[-1][0] == "/z" and "more than 10 members" in members[-1][2]


def test_corrupt_archives_become_a_skipped_entry() -> None:
    broken_zip = b"PK\x03\x04" + b"\x00" * 40
    assert listing(broken_zip, "/bad.zip") == [("/bad.zip", b"", listing(broken_zip, "/bad.zip")[0][2])]
    assert "unreadable zip" in listing(broken_zip, "/bad.zip")[0][2]
    truncated = gzip.compress(b"x" * 10000)[:-30]
    [(_path, data, skipped)] = listing(truncated, "/t.gz")
    assert data == b"" and ("truncated" in skipped or "corrupt" in skipped)


def test_unsupported_zip_method_is_named() -> None:
    data = bytearray(make_zip({"a": b"A"}, zipfile.ZIP_STORED))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(header)
        offset = 8 if header == b"PK\x03\x04" else 10
        data[at + offset : at + offset + 2] = (9).to_bytes(2, "little")
    [(_path, content, skipped)] = listing(bytes(data), "/d64.zip")
    assert content == b"" and skipped == "unsupported zip compression method 9 (deflate64)"


def test_encrypted_zip_member_is_skipped() -> None:
    data = bytearray(make_zip({"a": b"A"}, zipfile.ZIP_STORED))
    for header, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(header)
        data[at + offset] |= 0x1
    [(_path, _content, skipped)] = listing(bytes(data), "/enc.zip")
    assert skipped == "encrypted zip member"


def test_decompress_bounded_caps_output() -> None:
    stream = lzma.compress(b"y" * 100_000)
    assert decompress_bounded(stream, "xz", 100_000) == b"y" * 100_000
    try:
        decompress_bounded(stream, "xz", 99_999)
    except OverflowError:
        pass
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("cap not enforced")
