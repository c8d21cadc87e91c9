"""Hostile and corrupt images fail the target with a one-line diagnosis, never escape, never hang."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from helpers.analyzers import PkgListAnalyzer
from helpers.images import Hardlink, build_docker_archive, build_oci_layout, oci_image
from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.target.limits import Limits


def _scan(target: str, limits: Limits | None = None) -> None:
    options = ScanOptions(
        analyzers=(), extra_analyzers=(PkgListAnalyzer(),), limits=limits or Limits(), use_cache=False
    )
    scan_target(target, options)


def _raw_layer(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _archive_with_layer(tmp_path: Path, layer: bytes, diff_id: str | None = None) -> Path:
    """A docker-archive whose single layer is ``layer`` (bytes as given)."""
    import hashlib

    config = json.dumps(
        {
            "os": "linux",
            "architecture": "amd64",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()]},
        }
    ).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]).encode()
    path = tmp_path / "hostile.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in (("manifest.json", manifest), ("config.json", config), ("l/layer.tar", layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_path_traversal_member_is_refused(tmp_path: Path) -> None:
    evil = _raw_layer([(tarfile.TarInfo("../../etc/evil.pkglist"), b"x 1\n")])
    with pytest.raises(UnsafeInputError, match="escapes the target root"):
        _scan(f"docker-archive:{_archive_with_layer(tmp_path, evil)}")
    assert not (tmp_path.parent.parent / "etc" / "evil.pkglist").exists()


def test_absolute_member_stays_inside(tmp_path: Path) -> None:
    info = tarfile.TarInfo("/abs.pkglist")
    options = ScanOptions(analyzers=(), extra_analyzers=(PkgListAnalyzer(),), use_cache=False)
    archive = _archive_with_layer(tmp_path, _raw_layer([(info, b"a 1\n")]))
    result = scan_target(f"docker-archive:{archive}", options)
    assert [p.locations[0].path for p in result.packages] == ["/abs.pkglist"]


def test_hardlink_escaping_root_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("etc/passwd.pkglist")
    link.type = tarfile.LNKTYPE
    link.linkname = "../../../../etc/passwd"
    with pytest.raises(UnsafeInputError, match="hard link"):
        _scan(f"docker-archive:{_archive_with_layer(tmp_path, _raw_layer([(link, b'')]))}")


def test_hardlink_inside_layer_is_read(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/a.pkglist": b"p 1\n", "/b.pkglist": Hardlink("/a.pkglist")}])
    options = ScanOptions(analyzers=(), extra_analyzers=(PkgListAnalyzer(),), use_cache=False)
    result = scan_target(str(archive), options)
    # both paths are read; the same package found twice is one package with both locations
    assert sorted(loc.path for p in result.packages for loc in p.locations) == ["/a.pkglist", "/b.pkglist"]


def test_decompression_bomb_stops(tmp_path: Path) -> None:
    info = tarfile.TarInfo("zeros")
    bomb = gzip.compress(_raw_layer([(info, b"\0" * (8 * 1024 * 1024))]))
    limits = Limits(max_ratio=50, bomb_floor=1024 * 1024)
    archive = _archive_with_layer(tmp_path, bomb, diff_id="sha256:" + "0" * 64)
    with pytest.raises(UnsafeInputError, match="decompression bomb"):
        _scan(str(archive), limits)


def test_layer_size_limit(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/big": os.urandom(300_000)}])
    with pytest.raises(UnsafeInputError, match="size limit"):
        _scan(str(archive), Limits(max_layer_bytes=100_000))


def test_member_count_limit(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{f"/f{i}": b"" for i in range(50)}])
    with pytest.raises(UnsafeInputError, match="more than 10 members"):
        _scan(str(archive), Limits(max_members=10))


def test_oversized_file_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/big.pkglist": b"a 1\n" * 100, "/ok.pkglist": b"b 1\n"}])
    options = ScanOptions(
        analyzers=(), extra_analyzers=(PkgListAnalyzer(),), limits=Limits(max_file_bytes=50), use_cache=False
    )
    result = scan_target(str(archive), options)
    assert [p.name for p in result.packages] == ["b"]
    assert any("per-file limit" in w.message for w in result.warnings)


def test_truncated_layer(tmp_path: Path) -> None:
    layer = gzip.compress(_raw_layer([(tarfile.TarInfo("a.pkglist"), b"a 1\n" * 1000)]))
    archive = _archive_with_layer(tmp_path, layer[: len(layer) // 2], diff_id="sha256:" + "1" * 64)
    with pytest.raises(CorruptInputError):
        _scan(str(archive))


def test_diff_id_mismatch(tmp_path: Path) -> None:
    layer = _raw_layer([(tarfile.TarInfo("a.pkglist"), b"a 1\n")])
    archive = _archive_with_layer(tmp_path, layer, diff_id="sha256:" + "2" * 64)
    with pytest.raises(CorruptInputError, match="diff ID mismatch"):
        _scan(str(archive))


def test_manifest_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"{oops"))
    with pytest.raises(CorruptInputError, match=r"manifest\.json is not JSON"):
        _scan(f"docker-archive:{path}")


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputError):
        _scan(f"docker-archive:{path}")


def test_oci_blob_tampered(tmp_path: Path) -> None:
    image = oci_image([{"/a.pkglist": b"a 1\n"}])
    layout = build_oci_layout(tmp_path / "l", [image])
    blob = layout / "blobs" / "sha256" / image.layer_digests[0].split(":")[1]
    blob.write_bytes(gzip.compress(_raw_layer([(tarfile.TarInfo("a.pkglist"), b"evil 1\n")])))
    with pytest.raises(CorruptInputError, match="mismatch"):
        _scan(f"oci:{layout}")


def test_oci_symlink_escaping_layout(tmp_path: Path) -> None:
    image = oci_image([{"/a.pkglist": b"a 1\n"}])
    layout = build_oci_layout(tmp_path / "l", [image])
    config = layout / "blobs" / "sha256" / image.config_digest.split(":")[1]
    outside = tmp_path / "outside.json"
    outside.write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to(outside)
    with pytest.raises(UnsafeInputError, match="outside the layout"):
        _scan(f"oci:{layout}")


def test_oci_manifest_oversized(tmp_path: Path) -> None:
    layout = build_oci_layout(tmp_path / "l", layers=[{"/a": b"1"}])
    with pytest.raises(UnsafeInputError, match="limit"):
        _scan(f"oci:{layout}", Limits(max_metadata_bytes=100))


def test_outer_archive_member_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shieldwall.target import blobs

    monkeypatch.setattr(blobs, "MAX_ARCHIVE_MEMBERS", 20)
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(50):
            info = tarfile.TarInfo(f"junk/{i}")
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(UnsafeInputError, match="more than 20 members"):
        _scan(f"docker-archive:{path}")
