"""A package declared in two places is one package with two locations, and one finding per advisory."""

from __future__ import annotations

import json
from pathlib import Path

from shieldwall.merge.duplicates import merge_duplicates
from shieldwall.model import FindingKind, Location, Package, PackageType
from shieldwall.report.common import summary_line
from shieldwall.report.formats import OutputFormat, render
from shieldwall.service.scan import ScanOptions, scan_target
from unit.match.test_postscanner import _build


def _app(root: Path) -> Path:
    app = root / "app"
    (app / "venv" / "lib" / "python3.11" / "site-packages" / "Jinja2-2.7.1.dist-info").mkdir(parents=True)
    (app / "requirements.txt").write_text("jinja2==2.7.1\n")
    (app / "venv" / "lib" / "python3.11" / "site-packages" / "Jinja2-2.7.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.7.1\nLicense: BSD\n"
    )
    return app


def test_lock_file_and_installed_copy_are_one_package_with_one_finding_per_advisory(tmp_path: Path) -> None:
    _build(tmp_path / "data" / "vulndb" / "vulndb.sqlite")
    app = _app(tmp_path)
    result = scan_target(f"dir:{app}", ScanOptions(data_dir=tmp_path / "data", use_cache=False))
    jinja = [p for p in result.packages if p.name.lower() == "jinja2"]
    assert len(jinja) == 1, [(p.name, p.locations) for p in jinja]
    paths = sorted(location.path for location in jinja[0].locations)
    assert (len(paths) == 2 and paths[0].endswith("/requirements.txt") is False) or len(paths) == 2
    assert any(p.endswith("requirements.txt") for p in paths) and any("dist-info" in p for p in paths)
    vulns = [f for f in result.findings if f.kind is FindingKind.VULNERABILITY]
    ids = [f.rule_id for f in vulns]
    assert ids and len(ids) == len(set(ids)), ids  # one finding per advisory
    assert {f.package_id for f in vulns} == {jinja[0].id}
    # every output counts the same findings
    data = json.loads(render(OutputFormat.JSON, result))
    assert len([f for f in data["findings"] if f["kind"] == "vulnerability"]) == len(ids)
    sarif = json.loads(render(OutputFormat.SARIF, result))
    assert len([r for r in sarif["runs"][0]["results"] if r["ruleId"] in ids]) == len(ids)
    assert f"{len(result.packages)} package(s)" in summary_line(result, None)


def test_merge_keeps_the_first_identity_and_remaps_dependencies() -> None:
    a1 = Package(
        PackageType.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", locations=(Location("/app/package-lock.json"),)
    )
    a2 = Package(
        PackageType.NPM,
        "lodash",
        "4.17.20",
        "pkg:npm/lodash@4.17.20",
        locations=(Location("/app/node_modules/lodash/package.json"),),
        licenses=("MIT",),
    )
    user = Package(PackageType.NPM, "app", "1.0.0", "pkg:npm/app@1.0.0", dependency_ids=(a2.id,))
    other_arch = Package(PackageType.DEB, "libc6", "2.36", "pkg:deb/debian/libc6@2.36?arch=i386", arch="i386")
    native = Package(PackageType.DEB, "libc6", "2.36", "pkg:deb/debian/libc6@2.36?arch=amd64", arch="amd64")
    merged = merge_duplicates([a1, user, a2, native, other_arch])
    assert [p.name for p in merged] == ["lodash", "app", "libc6", "libc6"]  # two architectures stay two packages
    lodash = merged[0]
    assert lodash.id == a1.id and [loc.path for loc in lodash.locations] == [
        "/app/package-lock.json",
        "/app/node_modules/lodash/package.json",
    ]
    assert lodash.licenses == ("MIT",)
    assert merged[1].dependency_ids == (a1.id,)
