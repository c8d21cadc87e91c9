"""The SQLite advisory store: lookups, atomic builds, change sets, status and staleness."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError, InputError
from shieldwall.vulndb.model import Advisory, Affected, EpssEntry, KevEntry, SourceInfo
from shieldwall.vulndb.osv import load_osv_path, parse_osv
from shieldwall.vulndb.store import SCHEMA_VERSION, VulnDB, check_db_age, default_db_path, parse_age

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb" / "osv"


def _fixture_advisories() -> list[Advisory]:
    return [a for path in sorted(FIXTURES.iterdir()) for a in load_osv_path(path)]


def _adv(ident: str, ecosystem: str, name: str, modified: str = "2024-01-01T00:00:00Z", **kw: object) -> Advisory:
    return parse_osv(
        {"id": ident, "modified": modified, "affected": [{"package": {"ecosystem": ecosystem, "name": name}}], **kw}
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "db" / "vulndb.sqlite"
    with VulnDB.build(path) as writer:
        stats = writer.replace_source(SourceInfo("fixtures", url="file:fixtures"), _fixture_advisories())
        writer.replace_kev(SourceInfo("kev"), [KevEntry("CVE-2099-0001", vendor="Example", date_added="2099-01-01")])
        writer.replace_epss(SourceInfo("epss"), [EpssEntry("CVE-2099-0001", 0.5, 0.9, "v1", "2099-01-01")])
    assert (stats.total, stats.added) == (5, 5)
    return path


def test_default_path_follows_the_data_dir(tmp_path: Path) -> None:
    assert default_db_path({"SHIELDWALL_DATA_DIR": str(tmp_path)}) == tmp_path / "vulndb" / "vulndb.sqlite"


def test_lookup_normalises_pypi_names_and_skips_withdrawn(db_path: Path) -> None:
    with VulnDB.open(db_path) as db:
        for spelling in ("Example_Package", "example-package", "EXAMPLE.package"):
            assert [a.id for a in db.lookup("PyPI", spelling)] == ["EXAMPLE-PY-0001"]
        assert [a.id for a in db.lookup("PyPI", "example-package", include_withdrawn=True)] == [
            "EXAMPLE-PY-0001",
            "EXAMPLE-WITHDRAWN-0001",
        ]
        assert db.lookup("npm", "example-package") == []
        # Go module paths are case-sensitive
        assert [a.id for a in db.lookup("Go", "example.com/mod")] == ["EXAMPLE-GO-0001"]
        assert db.lookup("Go", "Example.com/Mod") == []


def test_distro_lookup_is_release_specific_plus_bare_ecosystem(db_path: Path) -> None:
    with VulnDB.open(db_path) as db:
        assert [a.id for a in db.lookup("Debian:12", "examplelib")] == ["EXAMPLE-DEB-0001", "EXAMPLE-DEB-0002"]
        assert [a.id for a in db.lookup("Debian:11", "examplelib")] == ["EXAMPLE-DEB-0001", "EXAMPLE-DEB-0002"]
        assert [a.id for a in db.lookup("Debian:10", "examplelib")] == ["EXAMPLE-DEB-0002"]
        assert [a.id for a in db.lookup("Debian", "examplelib")] == ["EXAMPLE-DEB-0002"]
        assert db.lookup("Ubuntu:22.04", "examplelib") == []
        assert "Debian:12" in db.ecosystems()


def test_get_alias_kev_epss(db_path: Path) -> None:
    with VulnDB.open(db_path) as db:
        advisory = db.get("EXAMPLE-GO-0001")
        assert advisory is not None and advisory.source == "fixtures"
        assert [a.id for a in db.by_alias("CVE-2099-0002")] == ["EXAMPLE-DEB-0001"]
        assert [a.id for a in db.by_alias("EXAMPLE-DEB-0001")] == ["EXAMPLE-DEB-0001"]
        kev = db.kev("cve-2099-0001")
        assert kev is not None and (kev.vendor, kev.date_added) == ("Example", "2099-01-01")
        assert db.kev("CVE-2099-9999") is None
        epss = db.epss("CVE-2099-0001")
        assert epss is not None and (epss.epss, epss.percentile, epss.model_version) == (0.5, 0.9, "v1")
        assert db.epss("CVE-2099-9999") is None


def test_same_id_from_two_sources_keeps_the_latest_modified(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with VulnDB.build(path) as writer:
        writer.replace_source(SourceInfo("a"), [_adv("X-1", "npm", "pkg", "2024-05-01T00:00:00Z", summary="new")])
        writer.replace_source(SourceInfo("b"), [_adv("X-1", "npm", "pkg", "2023-01-01T00:00:00Z", summary="old")])
    with VulnDB.open(path) as db:
        (found,) = db.lookup("npm", "pkg")
        assert (found.summary, found.source) == ("new", "a")


def test_changed_packages_track_adds_changes_and_removals(db_path: Path) -> None:
    with VulnDB.open(db_path) as db:
        first = db.changed_packages()
        assert db.generation() == 1
    assert ("PyPI", "example-package") in first and ("Debian:12", "examplelib") in first

    advisories = {a.id: a for a in _fixture_advisories()}
    del advisories["EXAMPLE-GO-0001"]  # removed
    advisories["EXAMPLE-DEB-0002"] = _adv("EXAMPLE-DEB-0002", "Debian", "examplelib", summary="changed")
    extra = _adv("EXAMPLE-NPM-0001", "npm", "left-pad")  # added
    with VulnDB.build(db_path) as writer:
        stats = writer.replace_source(SourceInfo("fixtures"), [*advisories.values(), extra])
        assert writer.changed_packages == {("Go", "example.com/mod"), ("Debian", "examplelib"), ("npm", "left-pad")}
    assert (stats.added, stats.changed, stats.removed, stats.unchanged) == (1, 1, 1, 3)
    with VulnDB.open(db_path) as db:
        assert db.changed_packages() == {("Go", "example.com/mod"), ("Debian", "examplelib"), ("npm", "left-pad")}
        assert db.lookup("Go", "example.com/mod") == []
        assert db.by_alias("GHSA-xxxx-yyyy-zzzz") == []

    # the same feed again changes nothing
    with VulnDB.build(db_path) as writer:
        stats = writer.replace_source(SourceInfo("fixtures"), [*advisories.values(), extra])
    assert (stats.added, stats.changed, stats.removed, stats.unchanged) == (0, 0, 0, 5)
    with VulnDB.open(db_path) as db:
        assert db.changed_packages() == frozenset()
        assert db.generation() == 3  # every committed build counts, even one that changed nothing


def test_a_failed_build_leaves_the_previous_database(db_path: Path) -> None:
    before = db_path.read_bytes()

    def broken_feed() -> list[Advisory]:
        raise CorruptInputError("feed broke halfway")

    with pytest.raises(CorruptInputError), VulnDB.build(db_path) as writer:
        writer.replace_source(SourceInfo("other"), [_adv("Y-1", "npm", "y")])
        writer.replace_source(SourceInfo("fixtures"), broken_feed())
    assert db_path.read_bytes() == before
    assert [p.name for p in db_path.parent.iterdir() if not p.name.endswith(".lock")] == [
        db_path.name
    ]  # no temporary file left
    with VulnDB.open(db_path) as db:
        assert db.lookup("npm", "y") == []
        assert len(db.lookup("Debian:12", "examplelib")) == 2


def test_readers_keep_their_view_across_a_swap(db_path: Path) -> None:
    with VulnDB.open(db_path) as reader:
        with VulnDB.build(db_path) as writer:
            writer.replace_source(SourceInfo("fixtures"), [])
        assert len(reader.lookup("Debian:12", "examplelib")) == 2  # the old file, still open
    with VulnDB.open(db_path) as db:
        assert db.lookup("Debian:12", "examplelib") == []


def test_remove_source(db_path: Path) -> None:
    with VulnDB.build(db_path) as writer:
        writer.remove_source("kev")
        writer.remove_source("fixtures")
    with VulnDB.open(db_path) as db:
        assert db.kev("CVE-2099-0001") is None
        assert [s.name for s in db.sources()] == ["epss"]
        assert db.status().advisories == 0


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="db update"):
        VulnDB.open(tmp_path / "absent.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(CorruptInputError):
        VulnDB.open(junk)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptInputError, match="schema"):
        VulnDB.open(other)
    # a build over an incompatible file starts from scratch instead of failing
    with VulnDB.build(other) as writer:
        writer.replace_source(SourceInfo("s"), [_adv("Z-1", "npm", "z")])
    with VulnDB.open(other) as db:
        assert [a.id for a in db.lookup("npm", "z")] == ["Z-1"]


def test_status(db_path: Path) -> None:
    now = datetime.now(UTC) + timedelta(hours=2)
    with VulnDB.open(db_path) as db:
        status = db.status(now)
    assert status.schema_version == SCHEMA_VERSION
    assert status.advisories == 5 and status.kev_entries == 1 and status.epss_entries == 1
    assert dict(status.ecosystems) == {"Debian": 1, "Debian:11": 1, "Debian:12": 1, "Go": 1, "PyPI": 2}
    assert {s.name for s in status.sources} == {"fixtures", "kev", "epss"}
    fixtures = next(s for s in status.sources if s.name == "fixtures")
    assert (fixtures.count, fixtures.url) == (5, "file:fixtures")
    assert status.age_seconds is not None and 7000 < status.age_seconds < 7300


def test_check_db_age(db_path: Path) -> None:
    with VulnDB.open(db_path) as db:
        last = db.last_update()
        assert last is not None
        assert check_db_age(db, timedelta(days=1), fail=False, now=last + timedelta(hours=1)) is None
        warning = check_db_age(db, timedelta(days=1), fail=False, now=last + timedelta(days=3))
        assert warning is not None and "3.0 days old" in warning and "db update" in warning
        with pytest.raises(InputError, match="older than"):
            check_db_age(db, timedelta(days=1), fail=True, now=last + timedelta(days=3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", timedelta(hours=36)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("24", timedelta(hours=24)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "-1d", "d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_age(text)


def test_affected_entries_without_a_package_are_stored_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    git_only = Advisory(id="GIT-1", affected=(Affected(ecosystem="", name=""),))
    with VulnDB.build(path) as writer:
        writer.replace_source(SourceInfo("s"), [git_only])
    with VulnDB.open(path) as db:
        assert db.get("GIT-1") == Advisory(id="GIT-1", affected=(Affected("", ""),), source="s")
        assert db.ecosystems() == []


def test_concurrent_builds_are_serialised(db_path: Path) -> None:
    import threading

    entered = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with VulnDB.build(db_path) as writer:
            writer.replace_source(SourceInfo("first"), [_adv("F-1", "npm", "first")])
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert entered.wait(10)
    second_done = threading.Event()

    def second_writer() -> None:
        with VulnDB.build(db_path) as writer:
            writer.replace_source(SourceInfo("second"), [_adv("S-1", "npm", "second")])
        second_done.set()

    other = threading.Thread(target=second_writer)
    other.start()
    assert not second_done.wait(0.3)  # waits for the first build's lock
    release.set()
    thread.join(10)
    other.join(10)
    assert second_done.is_set()
    with VulnDB.open(db_path) as db:  # neither build lost the other's work
        assert [a.id for a in db.lookup("npm", "first")] == ["F-1"]
        assert [a.id for a in db.lookup("npm", "second")] == ["S-1"]
