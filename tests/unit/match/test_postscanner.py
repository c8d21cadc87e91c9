"""The vulnerability post-scanner: database missing, fresh, stale; wiring into the scan service."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from shieldwall.errors import InputError
from shieldwall.match.postscanner import NO_DATABASE, VulnerabilityScanner, vulnerability_scanner
from shieldwall.model import FindingKind, OSInfo, PackageType, ScanResult, Target, TargetKind, TargetRef
from shieldwall.service.postscan import builtin_post_scanners
from shieldwall.service.scan import ScanOptions
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.osv import load_osv_path
from shieldwall.vulndb.store import VulnDB
from unit.match.test_matcher import FIXTURES, pkg


def _build(path: Path) -> Path:
    advisories = [a for p in sorted(FIXTURES.glob("*.json")) for a in load_osv_path(p)]
    with VulnDB.build(path) as writer:
        writer.replace_source(SourceInfo("fixtures"), advisories)
    return path


def _result() -> ScanResult:
    packages = (
        pkg(PackageType.DEB, "libssl1.1", "1.1.1n-0+deb11u3", source_name="openssl"),
        pkg(PackageType.PYPI, "jinja2", "2.7.1", path="/app/requirements.txt"),
        pkg(PackageType.PYPI, "jinja2", "bogus!", path="/other/requirements.txt"),
    )
    return ScanResult(
        target=Target(TargetRef(TargetKind.DIRECTORY, "/x"), "x"),
        os=OSInfo("debian", "Debian GNU/Linux", "11"),
        packages=packages,
    )


def test_missing_database_is_one_warning_not_a_crash(tmp_path: Path) -> None:
    scanner = VulnerabilityScanner(tmp_path / "nothing.sqlite")
    output = scanner.run(_result())
    assert output.findings == ()
    assert [w.message for w in output.warnings] == [NO_DATABASE]


def test_findings_from_the_database(tmp_path: Path) -> None:
    scanner = VulnerabilityScanner(_build(tmp_path / "db.sqlite"))
    output = scanner.run(_result())
    assert sorted(f.rule_id for f in output.findings) == [
        "CVE-2014-1402",
        "CVE-2023-0286",
        "CVE-2023-2650",
        "CVE-2024-22195",
    ]
    assert all(f.kind is FindingKind.VULNERABILITY for f in output.findings)
    assert [w.message for w in output.warnings] == [
        "1 package version(s) not comparable, not checked: jinja2 bogus! (PyPI)"
    ]


def _age(path: Path, days: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'updated_at'", (f"2000-01-{days:02d}T00:00:00+00:00",))
    conn.commit()
    conn.close()


def test_stale_database_warns_or_fails(tmp_path: Path) -> None:
    path = _build(tmp_path / "db.sqlite")
    _age(path, 1)
    output = VulnerabilityScanner(path, timedelta(days=7)).run(_result())
    assert output.findings  # still matched
    assert any("older than" in w.message for w in output.warnings)
    with pytest.raises(InputError, match="older than"):
        VulnerabilityScanner(path, timedelta(days=7), fail_on_stale_db=True).run(_result())
    quiet = VulnerabilityScanner(path, None).run(_result())
    assert not any("older than" in w.message for w in quiet.warnings)


def test_factory_uses_the_data_dir_and_is_registered(tmp_path: Path) -> None:
    _build(tmp_path / "vulndb" / "vulndb.sqlite")
    scanner = vulnerability_scanner(ScanOptions(data_dir=tmp_path, max_db_age=timedelta(days=1)))
    assert scanner is not None
    assert scanner.db_path == tmp_path / "vulndb" / "vulndb.sqlite"
    assert scanner.max_db_age == timedelta(days=1)
    assert scanner.name == "vulnerability" and scanner.scanner == "vuln"
    assert vulnerability_scanner in builtin_post_scanners()
    assert len(scanner.run(_result()).findings) == 4
