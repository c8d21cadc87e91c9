"""Format detection and importing each feed kind into a database; the real shared feeds."""

from __future__ import annotations

import gzip
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError, InputError
from shieldwall.vulndb import codec
from shieldwall.vulndb.importers import EPSS_SOURCE, KEV_SOURCE, FeedFormat, detect_format, import_feed
from shieldwall.vulndb.importers.osv_feed import iter_osv_dir
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb"


def _osv_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((FIXTURES / "osv").iterdir()):
            zf.write(f, f.name)
    return path


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("osv", FeedFormat.OSV),
        ("osv/EXAMPLE-GO-0001.json", FeedFormat.OSV),
        ("osv/EXAMPLE-PY-0001.yaml", FeedFormat.OSV),
        ("rustsec", FeedFormat.RUSTSEC),
        ("rustsec/crates", FeedFormat.RUSTSEC),
        ("rustsec/crates/example-crate/RUSTSEC-2099-0001.md", FeedFormat.RUSTSEC),
        ("alpine", FeedFormat.ALPINE_SECDB),
        ("alpine/v3.19/main.yaml", FeedFormat.ALPINE_SECDB),
        ("alpine/v3.18/main.json", FeedFormat.ALPINE_SECDB),
        ("kev.json", FeedFormat.KEV),
        ("kev.csv", FeedFormat.KEV),
        ("epss.csv", FeedFormat.EPSS),
    ],
)
def test_detect_format(relative: str, expected: FeedFormat) -> None:
    assert detect_format(FIXTURES / relative) is expected


def test_detect_binary_formats(tmp_path: Path) -> None:
    assert detect_format(_osv_zip(tmp_path / "all.zip")) is FeedFormat.OSV
    gz = tmp_path / "epss.csv.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "epss.csv").read_bytes()))
    assert detect_format(gz) is FeedFormat.EPSS
    unknown = tmp_path / "x.bin"
    unknown.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="--format"):
        detect_format(unknown)
    with pytest.raises(InputError, match="no such"):
        detect_format(tmp_path / "absent")


def test_import_every_kind(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    with VulnDB.build(db) as writer:
        osv = import_feed(writer, _osv_zip(tmp_path / "all.zip"))
        rust = import_feed(writer, FIXTURES / "rustsec")
        alpine = import_feed(writer, FIXTURES / "alpine")
        kev = import_feed(writer, FIXTURES / "kev.json")
        epss = import_feed(writer, FIXTURES / "epss.csv")
    assert (osv.format, osv.count) == (FeedFormat.OSV, 5)
    assert (rust.format, rust.count, len(rust.warnings)) == (FeedFormat.RUSTSEC, 2, 1)
    assert (alpine.format, alpine.count) == (FeedFormat.ALPINE_SECDB, 3)
    assert (kev.source, kev.count, epss.source, epss.count) == (KEV_SOURCE, 2, EPSS_SOURCE, 2)
    with VulnDB.open(db) as opened:
        assert [a.id for a in opened.lookup("crates.io", "example-crate")] == ["RUSTSEC-2099-0001"]
        assert [a.id for a in opened.lookup("Alpine:v3.19", "examplessl")] == [
            "ALPINE-CVE-2099-0100",
            "ALPINE-CVE-2099-0101",
            "ALPINE-CVE-2099-0102",
        ]
        assert [a.id for a in opened.lookup("Alpine:v3.18", "examplessl")] == ["ALPINE-CVE-2099-0100"]
        assert opened.kev("CVE-2099-0200") is not None and opened.epss("CVE-2099-0100") is not None
        kinds = {s.name.split(":", 1)[0]: s.kind for s in opened.sources()}
    assert kinds == {
        "osv": "osv",
        "rustsec": "rustsec",
        "alpine-secdb": "alpine-secdb",
        "cisa-kev": "kev",
        "first-epss": "epss",
    }


def test_reimporting_a_location_replaces_it(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    shutil.copytree(FIXTURES / "osv", feed)
    db = tmp_path / "db.sqlite"
    with VulnDB.build(db) as writer:
        import_feed(writer, feed)
    (feed / "EXAMPLE-GO-0001.json").unlink()
    with VulnDB.build(db) as writer:
        result = import_feed(writer, feed)
        assert writer.changed_packages == {("Go", "example.com/mod")}
    assert result.stats is not None and (result.stats.removed, result.stats.unchanged) == (1, 4)


def test_a_feed_with_nothing_readable_fails(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{broken")
    with pytest.raises(CorruptInputError, match="no advisory could be read"), VulnDB.build(tmp_path / "db.sqlite") as w:
        import_feed(w, tmp_path, FeedFormat.OSV)
    assert not (tmp_path / "db.sqlite").exists()


def test_explicit_source_name(tmp_path: Path) -> None:
    with VulnDB.build(tmp_path / "db.sqlite") as writer:
        result = import_feed(writer, FIXTURES / "osv", source=SourceInfo("mirror", url="https://mirror.invalid/"))
    assert result.source == "mirror"
    with VulnDB.open(tmp_path / "db.sqlite") as db:
        source = db.source("mirror")
        assert source is not None and (source.url, source.kind, source.count) == ("https://mirror.invalid/", "osv", 5)


def test_bundle_is_not_a_feed(tmp_path: Path) -> None:
    import tarfile

    bundle = tmp_path / "b.tar"
    with tarfile.open(bundle, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    assert detect_format(bundle) is FeedFormat.BUNDLE
    with pytest.raises(InputError, match="import-bundle"), VulnDB.build(tmp_path / "db.sqlite") as writer:
        import_feed(writer, bundle)


@pytest.mark.parametrize(("folder", "count"), [("pypi", 2661), ("go", 4291)])
def test_real_osv_feeds_import_and_round_trip(shared_data: Path, tmp_path: Path, folder: str, count: int) -> None:
    root = shared_data / "osv" / folder
    warnings: list[str] = []
    advisories = list(iter_osv_dir(root, warnings, source=f"osv:{folder}"))
    assert warnings == [] and len(advisories) == count
    for advisory in advisories:
        assert codec.decode(codec.encode(advisory)) == advisory
    db = tmp_path / "db.sqlite"
    with VulnDB.build(db) as writer:
        stats = writer.replace_source(SourceInfo(f"osv:{folder}"), advisories)
    assert stats.total == count
    with VulnDB.open(db) as opened:
        status = opened.status()
        assert status.advisories == count
        sample = advisories[len(advisories) // 2]
        package = next(a for a in sample.affected if a.name)
        assert sample.id in [a.id for a in opened.lookup(package.ecosystem, package.name)]
    print(f"osv/{folder}: {count} advisories imported; ecosystems {dict(status.ecosystems)}")


def test_real_pypi_yaml_versions_are_verbatim(shared_data: Path) -> None:
    """Every listed version is the text the file holds (no float or date conversion by the YAML loader)."""
    from shieldwall.vulndb.osv import load_osv_path

    checked = 0
    for f in sorted((shared_data / "osv" / "pypi" / "vulns").rglob("*.yaml")):
        items = {
            line.strip()[2:].strip().strip("'\"")
            for line in f.read_text().splitlines()
            if line.strip().startswith("- ")
        }
        for advisory in load_osv_path(f):
            for affected in advisory.affected:
                for version in affected.versions:
                    assert version in items, (f, version)
                    checked += 1
    assert checked > 50000
