"""Advisory import throughput: all of ../shared/data/osv (+ RustSec and Alpine secdb) into a fresh database.

For every feed it reports the advisories imported per second, split into
parsing (reading and converting the files) and storing (encoding, indexing,
SQLite), wall and CPU time; then the whole build; then a re-import of the
same feeds into the built database (nothing changed: the incremental path
``db update`` takes for an archive whose content is the same).

    PYTHONPATH=src .venv/bin/python benchmarks/vulndb_import.py [--runs 3] [--keep /tmp/bench.sqlite]

Matching time is measured by benchmarks/match_speed.py on the same feeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shieldwall.vulndb.importers import FeedFormat, iter_advisories
from shieldwall.vulndb.model import Advisory, SourceInfo
from shieldwall.vulndb.store import VulnDB

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FEEDS = [
    ("osv-pypi", SHARED / "osv" / "pypi" / "vulns", FeedFormat.OSV),
    ("osv-go", SHARED / "osv" / "go" / "data" / "osv", FeedFormat.OSV),
    ("rustsec", SHARED / "advisories" / "rustsec", FeedFormat.RUSTSEC),
    ("alpine-secdb", SHARED / "advisories" / "alpine-secdb", FeedFormat.ALPINE_SECDB),
]


@dataclass
class Timing:
    """Wall and CPU seconds of one step."""

    wall: float = 0.0
    cpu: float = 0.0


class Clock:
    """Measure a block: ``with Clock() as c: ...; c.timing``."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timing = Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


def _parse(path: Path, fmt: FeedFormat, name: str) -> tuple[list[Advisory], Timing]:
    warnings: list[str] = []
    with Clock() as clock:
        advisories = list(iter_advisories(path, fmt, warnings, source=name))
    if warnings:
        print(f"  {name}: {len(warnings)} warning(s) (first: {warnings[0]})")
    return advisories, clock.timing


def one_run(db_path: Path, verbose: bool) -> tuple[int, Timing, Timing]:
    """Build a fresh database from every feed present; returns (advisories, full build, unchanged re-import)."""
    db_path.unlink(missing_ok=True)
    total = 0
    feeds = [(name, path, fmt) for name, path, fmt in FEEDS if path.exists()]
    parsed: dict[str, list[Advisory]] = {}
    with Clock() as whole, VulnDB.build(db_path, fresh=True) as writer:
        for name, path, fmt in feeds:
            advisories, parse_time = _parse(path, fmt, name)
            with Clock() as store:
                writer.replace_source(SourceInfo(name, url=str(path), kind=fmt.value), advisories)
            parsed[name] = advisories
            n = len(advisories)
            total += n
            if verbose:
                wall = parse_time.wall + store.timing.wall
                print(
                    f"  {name:<13} {n:>6} advisories: parse {parse_time.wall:5.2f} s (cpu {parse_time.cpu:5.2f}), "
                    f"store {store.timing.wall:5.2f} s (cpu {store.timing.cpu:5.2f}) = {n / wall:7.0f} advisories/s"
                )
    with Clock() as again, VulnDB.build(db_path) as writer:
        for name, path, fmt in feeds:
            stats = writer.replace_source(SourceInfo(name, url=str(path), kind=fmt.value), parsed[name])
            assert stats.unchanged == stats.total, stats
        assert writer.changed_packages == frozenset()
    return total, whole.timing, again.timing


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="full builds to time (default 3)")
    parser.add_argument("--keep", type=Path, help="keep the built database at this path")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} is missing: nothing to import")
        return 1
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="vulndb-bench-") as work:
        db_path = args.keep or Path(work) / "bench.sqlite"
        builds: list[float] = []
        cpus: list[float] = []
        reimports: list[float] = []
        total = 0
        for run in range(1, args.runs + 1):
            print(f"run {run}:")
            total, build, again = one_run(db_path, verbose=True)
            builds.append(build.wall)
            cpus.append(build.cpu)
            reimports.append(again.wall)
            print(
                f"  full build: {total} advisories in {build.wall:.2f} s (cpu {build.cpu:.2f} s) "
                f"= {total / build.wall:.0f} advisories/s; unchanged re-import {again.wall:.2f} s"
            )
        size = db_path.stat().st_size
        best = min(builds)
        print(
            f"\nimport: {total} advisories, median {statistics.median(builds):.2f} s "
            f"= {total / statistics.median(builds):.0f} advisories/s (best {best:.2f} s = {total / best:.0f}/s, "
            f"cpu median {statistics.median(cpus):.2f} s = {total / statistics.median(cpus):.0f}/s cpu) "
            f"over {len(builds)} runs"
        )
        print(f"unchanged re-import: median {statistics.median(reimports):.2f} s; database {size / 1e6:.1f} MB")
        if args.keep:
            print(f"database kept at {db_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
