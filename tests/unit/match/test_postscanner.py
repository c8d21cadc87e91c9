"""The vulnerability post-scanner: database missing, fresh, stale; wiring into the scan service."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shieldwall.errors import InputError
from shieldwall.match.coverage import not_evaluated_packages, refuse_unevaluated
from shieldwall.match.postscanner import NO_DATABASE, VulnerabilityScanner, vulnerability_scanner
from shieldwall.model import FindingKind, OSInfo, PackageType, ScanResult, Target, TargetKind, TargetRef
from shieldwall.service.postscan import builtin_post_scanners
from shieldwall.service.scan import ScanOptions, scan_target
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


def test_missing_database_marks_every_package_not_evaluated(tmp_path: Path) -> None:
    scanner = VulnerabilityScanner(tmp_path / "nothing.sqlite")
    result = _result()
    output = scanner.run(result)
    assert output.findings == ()
    reason = f"no vulnerability database at {tmp_path / 'nothing.sqlite'}"
    assert [w.message for w in output.warnings] == [NO_DATABASE, f"not evaluated: 3 package(s): {reason}"]
    assert sorted(output.package_marks) == sorted(
        (p.id, "vulnerability", f"not evaluated: {reason}") for p in result.packages
    )
    with pytest.raises(InputError, match=r"^vulnerabilities not evaluated: 3 package"):
        refuse_unevaluated(replace(result, warnings=output.warnings), {"vuln"}, allowed=False)
    refuse_unevaluated(replace(result, warnings=output.warnings), {"vuln"}, allowed=True)
    refuse_unevaluated(replace(result, warnings=output.warnings), {"secret"}, allowed=False)


def test_an_inventoried_ecosystem_without_data_is_not_evaluated(tmp_path: Path) -> None:
    """A Rocky Linux package against a database without Rocky data: a gap, not a clean result."""
    path = _build(tmp_path / "db.sqlite")
    rocky = pkg(
        PackageType.RPM, "openssl-libs", "3.0.7-24.el9", source_name="openssl", path="/var/lib/rpm/rpmdb.sqlite"
    )
    jinja = pkg(PackageType.PYPI, "jinja2", "2.7.1", path="/app/requirements.txt")
    result = replace(_result(), os=OSInfo("rocky", "Rocky Linux", "9.3"), packages=(rocky, jinja))
    output = VulnerabilityScanner(path, None).run(result)
    assert "not evaluated: 1 package(s): no advisory data for Rocky Linux:9" in [w.message for w in output.warnings]
    assert output.package_marks == ((rocky.id, "vulnerability", "not evaluated: no advisory data for Rocky Linux:9"),)
    assert sorted(f.rule_id for f in output.findings) == ["CVE-2014-1402", "CVE-2024-22195"]  # PyPI still matched
    with pytest.raises(InputError, match="no advisory data for Rocky Linux:9"):
        refuse_unevaluated(replace(result, warnings=output.warnings), {"vuln"}, allowed=False)


def test_marks_reach_the_packages_of_the_scan_result(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.7.1\n")
    result = scan_target(f"dir:{app}", ScanOptions(data_dir=tmp_path / "empty", use_cache=False))
    (jinja,) = result.packages
    assert dict(jinja.metadata)["vulnerability"].startswith("not evaluated: no vulnerability database")
    assert not_evaluated_packages(result) == [jinja]


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
    assert "not evaluated: 3 package(s): the vulnerability database is stale" in [w.message for w in output.warnings]
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
