"""Matching speed: a 2,000-package inventory against a database built from all of ../shared/data/osv.

Builds (or reuses, with ``--reuse``) a Shieldwall vulnerability database from
the PyPA and Go OSV sets (plus RustSec and Alpine secdb when present),
reporting advisories imported per second; then matches a realistic
2,000-package inventory: the 727 packages of a real Debian 12 dpkg status
database, PyPI and Go packages at versions the advisories name (so that
there are real matches to build findings for), npm and crates. Each run
opens the database afresh and starts with empty version caches, as a scan
in a new process does.

    .venv/bin/python benchmarks/match_speed.py [--db /tmp/match-bench.sqlite] [--reuse] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from shieldwall.analyze.base import AnalysisInput, FileInfo
from shieldwall.analyze.os.dpkg import DpkgStatusAnalyzer
from shieldwall.match import versions
from shieldwall.match.matcher import match_packages
from shieldwall.match.severity import parse_vector
from shieldwall.model import Location, OSInfo, Package, PackageType
from shieldwall.vulndb.importers import FeedFormat, import_feed
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FEEDS = [
    ("osv-pypi", SHARED / "osv" / "pypi" / "vulns", FeedFormat.OSV),
    ("osv-go", SHARED / "osv" / "go" / "data" / "osv", FeedFormat.OSV),
    ("rustsec", SHARED / "advisories" / "rustsec", FeedFormat.RUSTSEC),
    ("alpine-secdb", SHARED / "advisories" / "alpine-secdb", FeedFormat.ALPINE_SECDB),
]
DEBIAN12 = OSInfo("debian", "Debian GNU/Linux", "12", "bookworm")


def build_db(path: Path) -> None:
    """Import every feed present into a fresh database at ``path``; print advisories per second."""
    path.unlink(missing_ok=True)
    total = 0
    start = time.perf_counter()
    with VulnDB.build(path, fresh=True) as writer:
        for name, folder, fmt in FEEDS:
            if not folder.exists():
                continue
            t0 = time.perf_counter()
            result = import_feed(writer, folder, fmt, source=SourceInfo(name, url=str(folder)))
            elapsed = time.perf_counter() - t0
            total += result.count
            print(f"  imported {result.count:6d} advisories from {name:13s} in {elapsed:6.2f} s")
    elapsed = time.perf_counter() - start
    print(f"import: {total} advisories in {elapsed:.2f} s = {total / elapsed:.0f} advisories/s")
    print(f"load average while importing: {os.getloadavg()[0]:.2f}")


def _pkg(kind: PackageType, name: str, version: str, path: str) -> Package:
    return Package(kind, name, version, f"pkg:{kind}/{name}@{version}", locations=(Location(path),))


def inventory(db: VulnDB, size: int = 2000, seed: int = 7) -> list[Package]:
    """A Debian 12 image's packages plus language packages at versions the advisories name."""
    rng = random.Random(seed)
    status = SHARED / "pkgdb" / "debian12-dpkg" / "status"
    data = status.read_bytes()
    path = "/var/lib/dpkg/status"
    analysis = DpkgStatusAnalyzer().analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))
    packages = list(analysis.packages)
    python: dict[str, Package] = {}
    go: dict[str, Package] = {}
    for advisory in db.iter_advisories():
        for affected in advisory.affected:
            if affected.ecosystem == "PyPI" and affected.versions and affected.name.lower() not in python:
                version = rng.choice(affected.versions)
                python[affected.name.lower()] = _pkg(PackageType.PYPI, affected.name, version, "/app/requirements.txt")
            elif affected.ecosystem == "Go" and affected.ranges and affected.name not in go:
                fixed = [e.fixed for r in affected.ranges for e in r.events if e.fixed]
                version = "v" + (rng.choice(fixed) if fixed else "0.1.0")
                go[affected.name] = _pkg(PackageType.GOLANG, affected.name, version, "/usr/local/bin/app")
    # One package per name, as in one image (a few names with hundreds of advisories: tensorflow, stdlib...).
    python_list, go_list = sorted(python.values(), key=lambda p: p.name), sorted(go.values(), key=lambda p: p.name)
    rng.shuffle(python_list)
    rng.shuffle(go_list)
    packages += python_list[:650] + go_list[:400]
    npm = [_pkg(PackageType.NPM, f"lib-{i}", f"1.{i % 7}.{i % 3}", "/app/package-lock.json") for i in range(150)]
    crates = [_pkg(PackageType.CARGO, f"crate-{i}", f"0.{i % 9}.1", "/src/Cargo.lock") for i in range(100)]
    packages += npm + crates
    return packages[:size]


def _clear_version_caches() -> None:
    for scheme in versions.ECOSYSTEM_SCHEMES.values():
        cache = getattr(scheme, "_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def main() -> None:
    """Build or reuse the database, then time matching the inventory ``--runs`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/match-bench.sqlite"))
    parser.add_argument("--reuse", action="store_true", help="reuse an existing database at --db")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (args.reuse and args.db.is_file()):
        build_db(args.db)
    with VulnDB.open(args.db) as db:
        packages = inventory(db)
    kinds: dict[str, int] = {}
    for p in packages:
        kinds[p.type.value] = kinds.get(p.type.value, 0) + 1
    print(f"load average before matching: {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"inventory: {len(packages)} packages ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    # The same names at versions above every fix: the cost of lookups and range checks without findings.
    patched = [
        p.evolve(version="99999")
        if p.type is PackageType.PYPI
        else p.evolve(version="v99999.0.0")
        if p.type is PackageType.GOLANG
        else p
        for p in packages
    ]
    for label, inv in (("vulnerable versions", packages), ("patched versions", patched)):
        times: list[float] = []
        cpu: list[float] = []
        for run in range(args.runs):
            _clear_version_caches()
            parse_vector.cache_clear()
            with VulnDB.open(args.db) as db:
                start, cpu_start = time.perf_counter(), time.process_time()
                report = match_packages(inv, DEBIAN12, db)
                elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu_start
            times.append(elapsed)
            cpu.append(cpu_used)
            print(
                f"  {label}, run {run + 1}: {elapsed * 1000:7.1f} ms wall, {cpu_used * 1000:7.1f} ms CPU, "
                f"{report.lookups} lookups, "
                f"{len(report.findings)} findings, {report.packages_checked} packages checked"
            )
        print(
            f"matching {len(inv)} packages ({label}): median {statistics.median(times) * 1000:.1f} ms "
            f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); CPU median "
            f"{statistics.median(cpu) * 1000:.1f} ms; over {len(times)} cold runs"
        )


if __name__ == "__main__":
    main()
