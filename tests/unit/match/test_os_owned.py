"""Python distributions installed by dpkg are matched through the Debian package that owns them, not PyPI ranges."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from shieldwall.match.matcher import InMemoryAdvisories, match_packages
from shieldwall.model import FindingKind, PackageType, ScanResult
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.vulndb.model import Advisory, SourceInfo
from shieldwall.vulndb.osv import load_osv_path, parse_osv_bytes
from shieldwall.vulndb.store import VulnDB

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "os" / "dpkg-info"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "osv"
BENCH_ROOTFS = Path(__file__).resolve().parents[3] / "benchmarks" / "work" / "cache" / "debian-rootfs"
DIST = "/usr/lib/python3/dist-packages"
PKG_INFO = "Metadata-Version: 2.1\nName: setuptools\nVersion: 66.1.1\nSummary: Easily download, build, install\n"
OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'


def _db(data_dir: Path, advisories: list[Advisory]) -> None:
    path = data_dir / "vulndb" / "vulndb.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with VulnDB.build(path) as writer:
        writer.replace_source(SourceInfo("fixtures"), advisories)


def _rootfs(root: Path, *, owned: bool) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    shutil.copy(FIXTURES / "status", root / "var/lib/dpkg/status")
    if owned:
        shutil.copy(FIXTURES / "python3-setuptools.list", info / "python3-setuptools.list")
    egg = root / DIST.lstrip("/") / "setuptools-66.1.1.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text(PKG_INFO)
    return root


def _scan(root: Path, data_dir: Path) -> ScanResult:
    options = ScanOptions(data_dir=data_dir, use_cache=False, scanners=frozenset({"vuln"}))
    return scan_target(f"dir:{root}", options)


def _vulns(result: ScanResult) -> dict[tuple[str, str], set[str]]:
    packages = {p.id: p for p in result.packages}
    out: dict[tuple[str, str], set[str]] = {}
    for finding in result.findings:
        if finding.kind is FindingKind.VULNERABILITY:
            package = packages[finding.package_id]
            out.setdefault((str(package.type), package.name), set()).update({finding.rule_id, *finding.aliases})
    return out


def test_dist_packages_owned_by_dpkg_use_debian_advisories(tmp_path: Path) -> None:
    _db(tmp_path / "data", [a for p in sorted((FIXTURES / "advisories").glob("*.json")) for a in load_osv_path(p)])
    result = _scan(_rootfs(tmp_path / "root", owned=True), tmp_path / "data")
    pypi = next(p for p in result.packages if p.type is PackageType.PYPI)
    assert ("os-owner", "deb:python3-setuptools@66.1.1-1+deb12u1") in pypi.metadata
    found = _vulns(result)
    # PyPI says 66.1.1 < 70.0.0 is vulnerable; Debian backported the fix into 66.1.1-1+deb12u1
    assert ("pypi", "setuptools") not in found
    assert found[("deb", "python3-setuptools")] >= {"CVE-2099-2002"}
    assert "CVE-2099-2001" not in found[("deb", "python3-setuptools")]
    finding = next(f for f in result.findings if f.kind is FindingKind.VULNERABILITY)
    owned = [e for e in finding.evidence if e.detector == "os-owned-files"]
    assert owned and f"pypi setuptools 66.1.1 at {DIST}/setuptools-66.1.1.egg-info/PKG-INFO" in owned[0].found
    assert "backported" in dict(owned[0].details)["explanation"]


def test_without_the_file_list_pypi_ranges_apply(tmp_path: Path) -> None:
    """The same files without dpkg's .list: nothing says who installed the egg-info, so PyPI's ranges apply."""
    _db(tmp_path / "data", [a for p in sorted((FIXTURES / "advisories").glob("*.json")) for a in load_osv_path(p)])
    result = _scan(_rootfs(tmp_path / "root", owned=False), tmp_path / "data")
    assert "CVE-2099-2001" in _vulns(result)[("pypi", "setuptools")]


def _feed(name: str, keep: set[str], ecosystem: str) -> list[Advisory]:
    out: list[Advisory] = []
    with zipfile.ZipFile(SHARED / name / "all.zip") as archive:
        for member in archive.namelist():
            raw = archive.read(member)
            if member.endswith(".json") and any(f'"{k}"'.encode() in raw for k in keep):
                out += [
                    a
                    for a in parse_osv_bytes(raw, member)
                    if any(x.ecosystem == ecosystem and x.name.lower() in keep for x in a.affected)
                ]
    return out


@pytest.mark.slow
def test_debootstrapped_rootfs_with_real_feeds(tmp_path: Path) -> None:
    """pip, setuptools and wheel of a real Debian 12 rootfs against the real GHSA PyPI and Debian feeds."""
    if not BENCH_ROOTFS.is_dir():
        pytest.skip(f"{BENCH_ROOTFS} absent: build it with `python benchmarks/build_image.py` (as root)")
    if not (SHARED / "pypi-ghsa" / "all.zip").is_file() or not (SHARED / "debian" / "all.zip").is_file():
        pytest.skip("../shared/data/osv/{pypi-ghsa,debian}/all.zip absent")
    names = {"pip", "setuptools", "wheel"}
    pypi = _feed("pypi-ghsa", names, "PyPI")
    debian = _feed("debian", {"python-pip", "setuptools", "wheel"}, "Debian:12")
    _db(tmp_path / "both", pypi + debian)
    both = _scan(BENCH_ROOTFS, tmp_path / "both")
    owned = [p for p in both.packages if p.type is PackageType.PYPI and p.name in names]
    assert {p.name for p in owned} == names and all(any(k == "os-owner" for k, _ in p.metadata) for p in owned)
    found = _vulns(both)
    assert not any(kind == "pypi" for kind, _ in found), found
    distro = {name: ids for (kind, name), ids in found.items() if kind == "deb" and name.startswith("python3-")}
    # what PyPI's ranges alone would have said about the same three distributions
    unmarked = [p.evolve(metadata=tuple(m for m in p.metadata if m[0] != "os-owner")) for p in owned]
    upstream = match_packages(unmarked, both.os, InMemoryAdvisories(pypi)).findings
    print(
        f"PyPI ranges: {len(upstream)} finding(s) on pip/setuptools/wheel; through Debian: "
        f"{ {k: len(v) for k, v in distro.items()} }"
    )
    assert upstream, "PyPI's ranges do flag these versions (otherwise the test proves nothing)"
    for finding in both.findings:
        package = next(p for p in both.packages if p.id == finding.package_id)
        if finding.kind is FindingKind.VULNERABILITY and package.name in {"python3-pip", "python3-setuptools"}:
            assert any(e.detector == "os-owned-files" for e in finding.evidence)


def test_node_module_from_a_debian_package_is_marked(tmp_path: Path) -> None:
    """Debian's node-semver installs /usr/share/nodejs/semver: the npm package is owned by the deb."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: node-semver\nStatus: install ok installed\nArchitecture: all\nVersion: 7.5.4+~7.5.0-2\n"
        "Description: semver\n"
    )
    (root / "var/lib/dpkg/info/node-semver.list").write_text(
        "/.\n/usr\n/usr/share/nodejs/semver\n/usr/share/nodejs/semver/package.json\n"
    )
    (root / "usr/share/nodejs/semver").mkdir(parents=True)
    (root / "usr/share/nodejs/semver/package.json").write_text('{"name": "semver", "version": "7.5.4"}')
    (root / "app/node_modules/semver").mkdir(parents=True)
    (root / "app/node_modules/semver/package.json").write_text('{"name": "semver", "version": "7.5.4"}')
    result = _scan(root, tmp_path / "data")
    npm = [p for p in result.packages if p.type is PackageType.NPM]
    assert [dict(p.metadata).get("os-owner", "") for p in npm] == [""]  # a copy in the app keeps npm ranges
    shutil.rmtree(root / "app")
    result = _scan(root, tmp_path / "data")
    npm = [p for p in result.packages if p.type is PackageType.NPM]
    assert [dict(p.metadata).get("os-owner", "") for p in npm] == ["deb:node-semver@7.5.4+~7.5.0-2"]


def test_java_jar_from_a_debian_package_is_marked(tmp_path: Path) -> None:
    """Debian's libcommons-lang3-java installs /usr/share/java/commons-lang3-3.12.0.jar (Maven metadata inside)."""
    import io
    import zipfile as zf

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: libcommons-lang3-java\nStatus: install ok installed\nArchitecture: all\n"
        "Source: commons-lang3\nVersion: 3.12.0-2\nDescription: Apache Commons Lang\n"
    )
    jar_path = "/usr/share/java/commons-lang3-3.12.0.jar"
    (root / "var/lib/dpkg/info/libcommons-lang3-java.list").write_text(f"/.\n/usr/share/java\n{jar_path}\n")
    buffer = io.BytesIO()
    with zf.ZipFile(buffer, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr(
            "META-INF/maven/org.apache.commons/commons-lang3/pom.properties",
            "groupId=org.apache.commons\nartifactId=commons-lang3\nversion=3.12.0\n",
        )
    (root / jar_path.lstrip("/")).parent.mkdir(parents=True)
    (root / jar_path.lstrip("/")).write_bytes(buffer.getvalue())
    result = _scan(root, tmp_path / "data")
    maven = [p for p in result.packages if p.type is PackageType.MAVEN]
    assert maven, "the jar's Maven metadata was catalogued"
    assert {dict(p.metadata).get("os-owner", "") for p in maven} == {"deb:libcommons-lang3-java@3.12.0-2"}


def test_python_package_from_an_alpine_package_is_marked(tmp_path: Path) -> None:
    """apk's installed database lists py3-setuptools's dist-info: owned, matched through the apk package."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n')
    (root / "lib/apk/db").mkdir(parents=True)
    dist = "usr/lib/python3.12/site-packages/setuptools-70.3.0.dist-info"
    (root / "lib/apk/db/installed").write_text(
        "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:py3-setuptools\nV:70.3.0-r0\nA:noarch\nS:1\nI:1\nT:setuptools\n"
        f"o:py3-setuptools\nF:{dist}\nR:METADATA\n\n"
    )
    (root / dist).mkdir(parents=True)
    (root / dist / "METADATA").write_text("Metadata-Version: 2.1\nName: setuptools\nVersion: 70.3.0\n")
    result = _scan(root, tmp_path / "data")
    pypi = [p for p in result.packages if p.type is PackageType.PYPI]
    assert [dict(p.metadata).get("os-owner", "") for p in pypi] == ["apk:py3-setuptools@70.3.0-r0"]
