"""The matcher on authored advisories (tests/fixtures/match/advisories): one case per core behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.match.matcher import InMemoryAdvisories, match_inventory, match_packages
from shieldwall.model import (
    FindingKind,
    LayerRef,
    Location,
    OSInfo,
    Package,
    PackageType,
    ScanResult,
    Severity,
    Target,
    TargetKind,
    TargetRef,
)
from shieldwall.vulndb.model import Advisory, Affected, EpssEntry, KevEntry, RangeEvent, RangeType, VersionRange
from shieldwall.vulndb.osv import load_osv_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "match" / "advisories"
LAYER = LayerRef(1, "sha256:" + "ab" * 32, "RUN apt-get install -y openssl")


def _advisories() -> list[Advisory]:
    return [a for p in sorted(FIXTURES.glob("*.json")) for a in load_osv_path(p)]


@pytest.fixture(scope="module")
def source() -> InMemoryAdvisories:
    kev = [KevEntry("CVE-2023-0286", vendor="OpenSSL", date_added="2023-03-01")]
    epss = [EpssEntry("CVE-2023-0286", 0.42, 0.97)]
    return InMemoryAdvisories(_advisories(), kev=kev, epss=epss)


def pkg(
    kind: PackageType,
    name: str,
    version: str,
    *,
    source_name: str = "",
    source_version: str = "",
    path: str = "/var/lib/dpkg/status",
) -> Package:
    return Package(
        type=kind,
        name=name,
        version=version,
        purl=f"pkg:{kind}/{name}@{version}",
        locations=(Location(path, LAYER),),
        source_name=source_name,
        source_version=source_version,
    )


def result(os: OSInfo | None, *packages: Package) -> ScanResult:
    return ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, "/x"), "x"), os=os, packages=packages)


DEBIAN11 = OSInfo("debian", "Debian GNU/Linux", "11")
DEBIAN12 = OSInfo("debian", "Debian GNU/Linux", "12")
ALPINE = OSInfo("alpine", "Alpine Linux", "3.19.1")
UBUNTU = OSInfo("ubuntu", "Ubuntu", "22.04")


def ids(findings: list) -> list[str]:
    return sorted(f.rule_id for f in findings)


def test_debian_binary_matches_through_its_source_package(source: InMemoryAdvisories) -> None:
    libssl = pkg(
        PackageType.DEB, "libssl1.1", "1.1.1n-0+deb11u3", source_name="openssl", source_version="1.1.1n-0+deb11u3"
    )
    findings = match_inventory(result(DEBIAN11, libssl), source)
    assert ids(findings) == ["CVE-2023-0286", "CVE-2023-2650"]
    dsa = next(f for f in findings if f.rule_id == "CVE-2023-0286")
    assert dsa.kind is FindingKind.VULNERABILITY
    assert dsa.aliases == ("DSA-5343-1",)
    assert dsa.vuln is not None
    assert dsa.vuln.installed_version == "1.1.1n-0+deb11u3"
    assert dsa.vuln.fixed_version == "1.1.1n-0+deb11u4"
    assert dsa.vuln.vendor_severity == "high"
    assert dsa.severity is Severity.HIGH  # no vector: the Debian urgency
    assert dsa.vuln.kev and dsa.vuln.kev_date_added == "2023-03-01"
    assert dsa.vuln.epss_score == 0.42 and dsa.vuln.epss_percentile == 0.97
    assert dsa.fix == "upgrade libssl1.1 (source package openssl 1.1.1n-0+deb11u3) to 1.1.1n-0+deb11u4"
    assert dsa.package_id == libssl.id
    assert dsa.location is not None and dsa.location.layer == LAYER
    (ev,) = dsa.evidence
    assert ev.detector == "dpkg-source-matcher"
    assert ev.searched == "Debian:11 openssl 1.1.1n-0+deb11u3"
    assert ("range", "ECOSYSTEM >=0 <1.1.1n-0+deb11u4") in ev.details


def test_vendor_backport_at_the_fixed_version_is_not_reported(source: InMemoryAdvisories) -> None:
    # Debian fixed CVE-2023-2650 in 1.1.1n-0+deb11u5 by backport: upstream 1.1.1n is "vulnerable", Debian's is not.
    patched = pkg(PackageType.DEB, "openssl", "1.1.1n-0+deb11u5", source_name="openssl")
    assert match_inventory(result(DEBIAN11, patched), source) == []


def test_distro_matching_is_release_specific(source: InMemoryAdvisories) -> None:
    openssl = pkg(PackageType.DEB, "openssl", "1.1.1n-0+deb11u3", source_name="openssl")
    # Same package and version on Debian 12: the Debian:11 advisories do not apply, the Debian:12 one does.
    assert ids(match_inventory(result(DEBIAN12, openssl), source)) == ["CVE-2023-2650"]
    zlib = pkg(PackageType.DEB, "zlib1g", "1:1.2.13.dfsg-1", source_name="zlib", source_version="1:1.2.13.dfsg-1")
    assert match_inventory(result(DEBIAN11, zlib), source) == []
    unfixed = match_inventory(result(DEBIAN12, zlib), source)
    assert ids(unfixed) == ["CVE-2024-0001"]
    assert unfixed[0].fix == "no fix available" and unfixed[0].vuln is not None
    assert unfixed[0].vuln.fixed_version == ""
    assert unfixed[0].severity is Severity.LOW


def test_os_packages_need_an_identified_release(source: InMemoryAdvisories) -> None:
    openssl = pkg(PackageType.DEB, "openssl", "1.1.1n-0+deb11u3", source_name="openssl")
    report = match_packages([openssl], None, source)
    assert report.findings == []
    assert sum(report.skipped.values()) == 1


def test_alpine_matches_through_origin_and_release(source: InMemoryAdvisories) -> None:
    libcrypto = pkg(PackageType.APK, "libcrypto3", "3.1.4-r0", source_name="openssl", path="/lib/apk/db/installed")
    findings = match_inventory(result(ALPINE, libcrypto), source)
    assert ids(findings) == ["CVE-2023-5678"]
    finding = findings[0]
    assert finding.evidence[0].detector == "apk-origin-matcher"
    assert finding.vuln is not None and finding.vuln.cvss_version == "3.1"
    assert finding.vuln.cvss_score == 5.3 and finding.severity is Severity.MEDIUM
    fixed = pkg(PackageType.APK, "libcrypto3", "3.1.4-r1", source_name="openssl", path="/lib/apk/db/installed")
    assert match_inventory(result(ALPINE, fixed), source) == []
    old_release = OSInfo("alpine", "Alpine Linux", "3.17.0")
    assert match_inventory(result(old_release, libcrypto), source) == []


def test_ubuntu_lts_ecosystem_and_vendor_priority(source: InMemoryAdvisories) -> None:
    openssl = pkg(PackageType.DEB, "libssl3", "3.0.2-0ubuntu1.10", source_name="openssl")
    findings = match_inventory(result(UBUNTU, openssl), source)
    assert ids(findings) == ["CVE-2023-4807"]
    assert findings[0].severity is Severity.MEDIUM and findings[0].vuln is not None
    assert findings[0].vuln.vendor_severity == "medium"


def test_aliases_merge_into_one_finding_with_all_ids(source: InMemoryAdvisories) -> None:
    jinja = pkg(PackageType.PYPI, "Jinja2", "2.7.1", path="/app/requirements.txt")
    findings = match_inventory(result(None, jinja), source)
    assert ids(findings) == ["CVE-2014-1402", "CVE-2024-22195"]
    merged = next(f for f in findings if f.rule_id == "CVE-2014-1402")
    assert merged.aliases == ("GHSA-fqh9-2qgg-h84h", "PYSEC-2014-8")
    assert {e.found.split(":")[0] for e in merged.evidence} == {"GHSA-fqh9-2qgg-h84h", "PYSEC-2014-8"}
    assert all(e.detector == "python-matcher" for e in merged.evidence)
    assert merged.title == "Incorrect Privilege Assignment in Jinja2"  # PYSEC has no summary: GHSA's
    assert merged.vuln is not None and merged.vuln.cvss_score == 7.0 and merged.severity is Severity.HIGH
    assert merged.vuln.published == "2014-05-19T14:55:00Z"  # the earliest of the merged advisories
    assert merged.fix == "upgrade Jinja2 to 2.7.2"
    newest = next(f for f in findings if f.rule_id == "CVE-2024-22195")
    assert newest.vuln is not None and newest.vuln.fixed_version == "3.1.3"
    assert ("git_ranges_skipped", "1") in newest.evidence[0].details


def test_fixed_python_version_and_pep440_spellings(source: InMemoryAdvisories) -> None:
    assert match_inventory(result(None, pkg(PackageType.PYPI, "jinja2", "3.1.3")), source) == []
    assert ids(match_inventory(result(None, pkg(PackageType.PYPI, "jinja2", "3.1.3rc1")), source)) == ["CVE-2024-22195"]
    # "2.7.2.0" is 2.7.2 in PEP 440: fixed.
    assert ids(match_inventory(result(None, pkg(PackageType.PYPI, "JINJA2", "2.7.2.0")), source)) == ["CVE-2024-22195"]


def test_withdrawn_and_informational_advisories_are_not_findings(source: InMemoryAdvisories) -> None:
    jinja = pkg(PackageType.PYPI, "jinja2", "3.1.4")
    assert match_inventory(result(None, jinja), source) == []  # only the withdrawn one would match
    failure = pkg(PackageType.CARGO, "failure", "0.1.8", path="/src/Cargo.lock")
    assert match_inventory(result(None, failure), source) == []


def test_npm_prereleases(source: InMemoryAdvisories) -> None:
    def check(version: str) -> list[str]:
        return ids(match_inventory(result(None, pkg(PackageType.NPM, "@acme/widget", version)), source))

    assert check("2.0.0-alpha.0") == []
    assert check("2.0.0-alpha.1") == ["GHSA-2222-3333-4444"]
    assert check("2.0.0-beta.7") == ["GHSA-2222-3333-4444"]
    assert check("2.0.0-rc.2") == []
    assert check("2.0.0") == []
    assert check("1.9.9") == []
    finding = match_inventory(result(None, pkg(PackageType.NPM, "@acme/widget", "2.0.0-beta.7")), source)[0]
    assert finding.severity is Severity.CRITICAL and finding.aliases == ()


def test_go_stdlib_and_modules(source: InMemoryAdvisories) -> None:
    stdlib = pkg(PackageType.GOLANG, "stdlib", "go1.22.1", path="/usr/local/bin/tool")
    xnet = pkg(PackageType.GOLANG, "golang.org/x/net", "v0.22.0", path="/usr/local/bin/tool")
    findings = match_inventory(result(None, stdlib, xnet), source)
    assert [(f.rule_id, f.package_id) for f in findings] == [
        ("CVE-2023-45288", stdlib.id),
        ("CVE-2023-45288", xnet.id),
    ]
    assert findings[0].vuln is not None and findings[0].vuln.fixed_version == "1.22.2"
    assert findings[0].evidence[0].detector == "go-stdlib-matcher"
    assert findings[0].evidence[0].searched == "Go stdlib 1.22.1"
    assert findings[0].aliases == ("GHSA-4v7x-pqxf-cx7m", "GO-2024-2687")
    assert findings[1].vuln is not None and findings[1].vuln.fixed_version == "0.23.0"
    assert findings[0].fingerprint != findings[1].fingerprint
    for version in ("go1.21.9", "go1.22.2", "go1.23rc1"):
        assert match_inventory(result(None, pkg(PackageType.GOLANG, "stdlib", version)), source) == []
    assert ids(match_inventory(result(None, pkg(PackageType.GOLANG, "stdlib", "go1.22rc1")), source)) == [
        "CVE-2023-45288"
    ]


def test_maven_qualifiers_and_cvss4(source: InMemoryAdvisories) -> None:
    def check(version: str) -> list[str]:
        return ids(match_inventory(result(None, pkg(PackageType.MAVEN, "com.acme:acme-core", version)), source))

    assert check("1.0-beta-2") == ["CVE-2024-11111"]
    assert check("1.0-rc1") == ["CVE-2024-11111"]
    assert check("1.0.0") == []
    assert check("1.0-sp1") == []
    finding = match_inventory(result(None, pkg(PackageType.MAVEN, "com.acme:acme-core", "1.0-rc1")), source)[0]
    assert finding.vuln is not None and finding.vuln.cvss_version == "4.0"
    assert finding.vuln.cvss_score == 9.3 and finding.severity is Severity.CRITICAL


def test_cvss_v2_only(source: InMemoryAdvisories) -> None:
    hyper = pkg(PackageType.CARGO, "hyper", "0.14.9", path="/src/Cargo.lock")
    (finding,) = match_inventory(result(None, hyper), source)
    assert finding.rule_id == "CVE-2021-32715"
    assert finding.vuln is not None and finding.vuln.cvss_version == "2.0" and finding.vuln.cvss_score == 5.0
    assert finding.severity is Severity.MEDIUM


def test_fingerprint_is_stable_and_line_independent(source: InMemoryAdvisories) -> None:
    a = pkg(PackageType.PYPI, "jinja2", "2.7.1", path="/app/requirements.txt")
    moved = a.evolve(locations=(Location("/app/requirements.txt", LAYER, line=42),))
    fa = match_inventory(result(None, a), source)
    fb = match_inventory(result(None, moved), source)
    assert [f.fingerprint for f in fa] == [f.fingerprint for f in fb]
    assert "CVE-2014-1402" in fa[0].fingerprint_material and a.purl in fa[0].fingerprint_material


def test_one_lookup_per_distinct_package_name(source: InMemoryAdvisories) -> None:
    class Counting(InMemoryAdvisories):
        calls = 0

        def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
            Counting.calls += 1
            return super().lookup(ecosystem, name)

    counting = Counting(_advisories())
    packages = [pkg(PackageType.PYPI, "Jinja2", "2.7.1", path=f"/app{i}/requirements.txt") for i in range(20)] + [
        pkg(PackageType.PYPI, "jinja2", "3.0.0", path="/other/requirements.txt")
    ]
    report = match_packages(packages, None, counting)
    assert Counting.calls == 1 and report.lookups == 1
    assert len(report.findings) == 20 * 2 + 1


def test_unparseable_installed_versions_are_counted(source: InMemoryAdvisories) -> None:
    broken = pkg(PackageType.PYPI, "jinja2", "not-a-version")
    report = match_packages([broken], None, source)
    assert report.findings == []
    assert report.unparseable_installed == ["jinja2 not-a-version (PyPI)"]


def test_an_entry_reached_by_two_queries_is_one_piece_of_evidence() -> None:
    bare = Advisory(
        "UBUNTU-CVE-2024-1",
        aliases=("CVE-2024-1",),
        affected=(Affected("Ubuntu", "openssl", ranges=(VersionRange(RangeType.ECOSYSTEM, (RangeEvent("0"),)),)),),
    )
    openssl = pkg(PackageType.DEB, "libssl3", "3.0.2-0ubuntu1.10", source_name="openssl")
    (finding,) = match_inventory(result(UBUNTU, openssl), InMemoryAdvisories([bare]))
    assert finding.rule_id == "CVE-2024-1" and len(finding.evidence) == 1


def _ghsa_two_ranges() -> Advisory:
    """A GitHub advisory the way GHSA writes it: one ``affected`` entry per vulnerable range of one package."""
    from shieldwall.vulndb.osv import parse_osv

    def entry(introduced: str, fixed: str) -> dict[str, object]:
        events = [{"introduced": introduced}, {"fixed": fixed}]
        return {"package": {"ecosystem": "npm", "name": "qs"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}

    return parse_osv(
        {
            "id": "GHSA-hrpp-h998-j3pp",
            "aliases": ["CVE-2022-24999"],
            "affected": [entry("6.10.0", "6.10.3"), entry("6.5.0", "6.5.3"), entry("6.9.0", "6.9.7")],
        }
    )


@pytest.mark.parametrize("version", ["6.10.1", "6.5.2", "6.9.6"])
def test_every_affected_entry_of_one_package_is_evaluated(version: str) -> None:
    source = InMemoryAdvisories([_ghsa_two_ranges()])
    (finding,) = match_packages([pkg(PackageType.NPM, "qs", version)], None, source).findings
    assert finding.rule_id == "CVE-2022-24999"
    assert finding.vuln is not None and finding.vuln.installed_version == version
    ranges = [dict(e.details)["range"] for e in finding.evidence]
    assert len(ranges) == 1 and version.rsplit(".", 1)[0] in ranges[0]


@pytest.mark.parametrize("version", ["6.10.3", "6.5.3", "6.8.0", "6.4.9"])
def test_versions_between_the_ranges_are_not_affected(version: str) -> None:
    source = InMemoryAdvisories([_ghsa_two_ranges()])
    assert match_packages([pkg(PackageType.NPM, "qs", version)], None, source).findings == []


def test_an_unparseable_version_is_a_warning_and_the_other_advisories_still_match() -> None:
    ranged = Advisory(
        "PYSEC-0000-1",
        affected=(Affected("PyPI", "legacy", ranges=(VersionRange(RangeType.ECOSYSTEM, (RangeEvent("0"),)),)),),
    )
    listed = Advisory("PYSEC-0000-2", affected=(Affected("PyPI", "legacy", versions=("0.9-beta weird",)),))
    report = match_packages(
        [pkg(PackageType.PYPI, "legacy", "0.9-beta weird")], None, InMemoryAdvisories([ranged, listed])
    )
    assert [f.rule_id for f in report.findings] == ["PYSEC-0000-2"]
    assert report.unparseable_installed == ["legacy 0.9-beta weird (PyPI)"]


def test_a_distro_record_without_severity_takes_it_from_an_alias_with_cvss() -> None:
    from shieldwall.vulndb.model import Severity as AdvisorySeverity

    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    dsa = Advisory(
        "DSA-9999-1",
        aliases=("CVE-2031-0001",),
        affected=(
            Affected(
                "Debian:12",
                "openssl",
                ranges=(VersionRange(RangeType.ECOSYSTEM, (RangeEvent("0"), RangeEvent(fixed="3.0.99-1"))),),
            ),
        ),
    )
    ghsa = Advisory(
        "GHSA-xxxx-yyyy-zzzz",
        aliases=("CVE-2031-0001",),
        severity=(AdvisorySeverity("CVSS_V3", vector),),
        affected=(Affected("PyPI", "unrelated", versions=("1.0",)),),
    )
    openssl = pkg(PackageType.DEB, "libssl3", "3.0.11-1~deb12u2", source_name="openssl")
    (finding,) = match_inventory(result(DEBIAN12, openssl), InMemoryAdvisories([dsa, ghsa]))
    assert finding.severity is Severity.CRITICAL
    assert finding.vuln is not None and finding.vuln.cvss_vector == vector
    assert dict(finding.evidence[0].details)["severity_from"] == "GHSA-xxxx-yyyy-zzzz"
    # without the alias in the database: the severity is not invented
    (alone,) = match_inventory(result(DEBIAN12, openssl), InMemoryAdvisories([dsa]))
    assert alone.severity is Severity.UNKNOWN and alone.vuln is not None and alone.vuln.cvss_vector == ""
