"""A rescan of an unchanged image re-reads nothing; a new analyzer version re-reads."""

from __future__ import annotations

from pathlib import Path

from helpers.analyzers import PkgListAnalyzer
from helpers.images import build_docker_archive, build_oci_layout
from shieldwall.cache.layers import LayerCache, cache_key
from shieldwall.service.scan import ScanOptions, scan_target

LAYERS = [{"/a.pkglist": b"a 1\n"}, {"/b.pkglist": b"b 2\n"}]


def test_second_scan_is_served_from_cache(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    first = PkgListAnalyzer()
    r1 = scan_target(str(archive), ScanOptions(analyzers=(), extra_analyzers=(first,), cache_dir=tmp_path / "c"))
    assert first.calls == 2
    second = PkgListAnalyzer()
    r2 = scan_target(str(archive), ScanOptions(analyzers=(), extra_analyzers=(second,), cache_dir=tmp_path / "c"))
    assert second.calls == 0
    assert r1.packages == r2.packages


def test_same_layers_in_another_format_hit_the_cache(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    layout = build_oci_layout(tmp_path / "layout", layers=LAYERS, compression="none")
    scan_target(str(archive), ScanOptions(analyzers=(), extra_analyzers=(PkgListAnalyzer(),), cache_dir=tmp_path / "c"))
    again = PkgListAnalyzer()
    scan_target(str(layout), ScanOptions(analyzers=(), extra_analyzers=(again,), cache_dir=tmp_path / "c"))
    assert again.calls == 0


def test_compressed_bytes_are_verified_once_before_the_cache_serves_them(tmp_path: Path) -> None:
    """A gzip blob never read before is read (its diff ID checked) even when the diff ID is cached; then cached."""
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    layout = build_oci_layout(tmp_path / "layout", layers=LAYERS, compression="gzip")
    scan_target(str(archive), ScanOptions(analyzers=(), extra_analyzers=(PkgListAnalyzer(),), cache_dir=tmp_path / "c"))
    counts = []
    for _ in range(2):
        analyzer = PkgListAnalyzer()
        scan_target(str(layout), ScanOptions(analyzers=(), extra_analyzers=(analyzer,), cache_dir=tmp_path / "c"))
        counts.append(analyzer.calls)
    assert counts == [2, 0]


def test_new_analyzer_version_invalidates(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    scan_target(
        str(archive), ScanOptions(analyzers=(), extra_analyzers=(PkgListAnalyzer(1),), cache_dir=tmp_path / "c")
    )
    bumped = PkgListAnalyzer(2)
    scan_target(str(archive), ScanOptions(analyzers=(), extra_analyzers=(bumped,), cache_dir=tmp_path / "c"))
    assert bumped.calls == 2


def test_no_cache_option(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    opts = dict(analyzers=(), cache_dir=tmp_path / "c", use_cache=False)
    scan_target(str(archive), ScanOptions(extra_analyzers=(PkgListAnalyzer(),), **opts))  # type: ignore[arg-type]
    again = PkgListAnalyzer()
    scan_target(str(archive), ScanOptions(extra_analyzers=(again,), **opts))  # type: ignore[arg-type]
    assert again.calls == 2
    assert not (tmp_path / "c" / "layers").exists()


def test_corrupt_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    key = cache_key("sha256:abc", [("x", 1)])
    path = tmp_path / "layers" / key[:2] / f"{key}.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip")
    assert cache.get(key) is None


def test_a_link_leading_out_of_the_cache_is_never_followed(tmp_path: Path) -> None:
    from shieldwall.analyze.runner import LayerResult

    cache = LayerCache(tmp_path / "cache")
    key = cache_key("sha256:" + "ab" * 32, [("pkg", 1)])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "cache" / "layers").mkdir(parents=True)
    (tmp_path / "cache" / "layers" / key[:2]).symlink_to(outside)  # a planted link
    cache.put(key, LayerResult())
    assert list(outside.iterdir()) == []
    assert cache.get(key) is None
    # a normal entry still round-trips
    other = cache_key("sha256:" + "cd" * 32, [("pkg", 1)])
    cache.put(other, LayerResult())
    assert cache.get(other) == LayerResult()
