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


RPM_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "os" / "rpm-owned"
ROCKY_SITE = "/usr/lib/python3.9/site-packages"
ROCKY_METADATA = "Metadata-Version: 2.1\nName: setuptools\nVersion: 53.0.0\n"


def _rocky_rootfs(root: Path, *, blobs: list[bytes], venv_copy: bool = False) -> Path:
    """Rocky 9 with an rpmdb.sqlite holding ``blobs`` (rpm's own header for python3-setuptools) and its dist-info."""
    import sqlite3

    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n')
    (root / "var/lib/rpm").mkdir(parents=True)
    connection = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    connection.commit()
    connection.close()
    sites = [ROCKY_SITE] + (["/opt/app/venv/lib/python3.9/site-packages"] if venv_copy else [])
    for site in sites:
        dist = root / site.lstrip("/") / "setuptools-53.0.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(ROCKY_METADATA)
    return root


def _rocky_db(data_dir: Path) -> None:
    _db(data_dir, [a for p in sorted((RPM_FIXTURES / "advisories").glob("*.json")) for a in load_osv_path(p)])


def test_site_packages_owned_by_rpm_use_rocky_advisories(tmp_path: Path) -> None:
    """rpm's header lists the dist-info: matched through python3-setuptools 53.0.0-12.el9, not PyPI's range."""
    _rocky_db(tmp_path / "data")
    header = (RPM_FIXTURES / "python3-setuptools.header").read_bytes()
    result = _scan(_rocky_rootfs(tmp_path / "root", blobs=[header]), tmp_path / "data")
    pypi = [p for p in result.packages if p.type is PackageType.PYPI]
    assert [dict(p.metadata).get("os-owner", "") for p in pypi] == ["rpm:python3-setuptools@53.0.0-12.el9"]
    found = _vulns(result)
    # PyPI says 53.0.0 < 65.5.1 is vulnerable to CVE-2099-3001; Rocky backported its fix into 53.0.0-12.el9
    assert ("pypi", "setuptools") not in found
    assert found[("rpm", "python3-setuptools")] >= {"CVE-2099-3002"}
    assert "CVE-2099-3001" not in found[("rpm", "python3-setuptools")]
    finding = next(f for f in result.findings if f.kind is FindingKind.VULNERABILITY)
    owned = [e for e in finding.evidence if e.detector == "os-owned-files"]
    assert owned and f"pypi setuptools 53.0.0 at {ROCKY_SITE}/setuptools-53.0.0.dist-info/METADATA" in owned[0].found
    assert "backported" in dict(owned[0].details)["explanation"]


def test_rpm_ownership_needs_the_file_list_and_covers_only_owned_copies(tmp_path: Path) -> None:
    """A same-version copy in a venv is not rpm's: PyPI's ranges apply; so they do when no rpm lists the files."""
    _rocky_db(tmp_path / "data")
    header = (RPM_FIXTURES / "python3-setuptools.header").read_bytes()
    result = _scan(_rocky_rootfs(tmp_path / "venv", blobs=[header], venv_copy=True), tmp_path / "data")
    pypi = [p for p in result.packages if p.type is PackageType.PYPI]
    venv = [p for p in pypi if any(loc.path.startswith("/opt/app/") for loc in p.locations)]
    assert venv and all(not dict(p.metadata).get("os-owner") for p in venv)
    assert "CVE-2099-3001" in _vulns(result)[("pypi", "setuptools")]
    # without rpm's header nothing says who installed the dist-info
    result = _scan(_rocky_rootfs(tmp_path / "bare", blobs=[]), tmp_path / "data")
    assert "CVE-2099-3001" in _vulns(result)[("pypi", "setuptools")]


@pytest.mark.integration
def test_fixture_header_is_what_rpm_writes(tmp_path: Path) -> None:
    """Rebuild the committed header with rpmbuild + rpm and compare the file lists the analyzer reads."""
    import os
    import sqlite3
    import subprocess

    from shieldwall.analyze.os.rpm import parse_header

    if not (shutil.which("rpm") and shutil.which("rpmbuild")):
        pytest.skip("rpm and rpmbuild are not installed (Debian package: rpm)")
    env = {**os.environ, "HOME": str(tmp_path)}
    spec = RPM_FIXTURES / "python3-setuptools.spec"
    define = ["--define", f"_topdir {tmp_path / 'top'}"]
    subprocess.run(["rpmbuild", *define, "-bb", str(spec)], check=True, capture_output=True, env=env, timeout=300)
    [package] = (tmp_path / "top" / "RPMS" / "noarch").glob("*.rpm")
    db = tmp_path / "db"
    db.mkdir()
    subprocess.run(["rpm", "--dbpath", str(db), "--initdb"], check=True, capture_output=True, env=env, timeout=120)
    subprocess.run(
        ["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", str(package)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    connection = sqlite3.connect(f"{(db / 'rpmdb.sqlite').as_uri()}?mode=ro&immutable=1", uri=True)
    [(blob,)] = connection.execute("SELECT blob FROM Packages").fetchall()
    connection.close()
    fresh = parse_header(bytes(blob))
    committed = parse_header((RPM_FIXTURES / "python3-setuptools.header").read_bytes())
    assert fresh.files() == committed.files()
    assert f"{ROCKY_SITE}/setuptools-53.0.0.dist-info/METADATA" in fresh.files()
    assert (fresh.name, fresh.version, fresh.release) == ("python3-setuptools", "53.0.0", "12.el9")
