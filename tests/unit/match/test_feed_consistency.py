"""Shieldwall's verdicts on real advisory feeds equal an independent implementation's.

Feeds (../shared/data/osv): GitHub-reviewed npm and PyPI advisories and the
osv.dev Debian export (DEBIAN/DSA/DLA/DTSA records, every release).

For every advisory, every package it names and every version it lists or
bounds (``introduced``, ``fixed``, ``last_affected``, ``limit``, ``versions``):

- **advisory verdict**: Shieldwall's real matcher (``match_packages``: every
  ``affected`` entry of the package, lists and ranges) against the oracle
  "listed by exact spelling, or inside one of the intervals read in the order
  the advisory wrote them", whose comparisons come from an independent
  implementation: node-semver (Debian's ``node-semver``, one batched ``node``
  process), ``packaging`` for PEP 440, python-debian's ``Version`` for dpkg
  (itself cross-checked against dpkg: dpkg's own Perl ``Dpkg::Version`` in one
  process on a sample of comparisons, and the ``dpkg --compare-versions`` binary
  on a smaller one);
- **range verdict** for every listed version: the ranges alone (the list
  dropped), so that agreement on a listed version is not just two exact
  string matches. A listed version outside its own ranges is the advisory's
  inconsistency, not a disagreement: both sides must still say the same.

Agreement is reported as a number (run with ``-s``; also in ``agreement.txt``
in the test's temporary directory). Every disagreement is listed with its
reason, derived from the data by a check (not from a list of IDs); a
disagreement no check explains fails the test.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import packaging.version
import pytest

from shieldwall.match.matcher import InMemoryAdvisories, match_packages
from shieldwall.match.ranges import evaluate
from shieldwall.match.versions import InvalidVersion, scheme_for
from shieldwall.model import Location, OSInfo, Package, PackageType
from shieldwall.vulndb.model import Advisory, Affected, RangeType, normalize_name
from shieldwall.vulndb.osv import parse_osv_bytes

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "data" / "osv"
FEEDS = {
    "npm": SHARED / "npm-ghsa" / "all.zip",
    "pypi": SHARED / "pypi-ghsa" / "all.zip",
    "debian": SHARED / "debian" / "all.zip",
}
NODE = Path("/usr/bin/node")
NODE_PATH = "/usr/share/nodejs"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
MAX_MEMBER = 4 * 1024 * 1024

# (start or None for "0", "fixed" | "last_affected" | "limit" | "open", end or None)
Interval = tuple[str | None, str, str | None]
Verdict = bool | str  # True/False, or "invalid: ..." when a side cannot place the version


def _require(path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    if not path.is_file():
        pytest.skip(f"{path} not present")


@cache
def load_feed(feed: str) -> tuple[Advisory, ...]:
    """Every record of a feed's zip (members bounded in size)."""
    out: list[Advisory] = []
    with zipfile.ZipFile(FEEDS[feed]) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json") or info.file_size > MAX_MEMBER:
                continue
            out.extend(parse_osv_bytes(archive.read(info), info.filename))
    return tuple(out)


def written_intervals(affected: Affected) -> list[Interval]:
    """ECOSYSTEM/SEMVER events read pairwise in the order written, without sorting."""
    out: list[Interval] = []
    for vrange in affected.ranges:
        if vrange.type not in (RangeType.ECOSYSTEM, RangeType.SEMVER):
            continue
        start: str | None = None
        open_ = False
        for event in vrange.events:
            if event.introduced:
                if open_:
                    out.append((start, "open", None))
                start = None if event.introduced == "0" else event.introduced
                open_ = True
            else:
                kind, end = next(
                    (k, v)
                    for k, v in (("fixed", event.fixed), ("last_affected", event.last_affected), ("limit", event.limit))
                    if v
                )
                if open_:
                    out.append((start, kind, end))
                    open_ = False
        if open_:
            out.append((start, "open", None))
    return out


def bounds(affected: Affected) -> list[str]:
    """Every version an entry's ranges name (``introduced: 0`` is not a version)."""
    out = []
    for vrange in affected.ranges:
        if vrange.type in (RangeType.ECOSYSTEM, RangeType.SEMVER):
            for event in vrange.events:
                out.extend(
                    v for v in (event.introduced, event.fixed, event.last_affected, event.limit) if v and v != "0"
                )
    return out


def inside(cmp: Callable[[str, str], int], version: str, intervals: list[Interval]) -> bool:
    """The oracle: is ``version`` inside one interval, by an independent three-way comparison."""
    for start, kind, end in intervals:
        if start is not None and cmp(version, start) < 0:
            continue
        if kind == "open" or end is None:
            return True
        c = cmp(version, end)
        if (kind in ("fixed", "limit") and c < 0) or (kind == "last_affected" and c <= 0):
            return True
    return False


# --- the independent comparators -------------------------------------------------------------------------

_NODE_SCRIPT = r"""
const semver = require('semver');
let input = '';
process.stdin.on('data', d => { input += d; });
process.stdin.on('end', () => {
  const jobs = JSON.parse(input);
  const out = jobs.map(([intervals, listed, versions]) => versions.map(v => {
    if (listed.includes(v)) return true;
    if (semver.valid(v) === null) return 'invalid: node-semver rejects ' + v;
    for (const [start, kind, end] of intervals) {
      // An interval with a bound node-semver rejects cannot be placed: it is skipped (Shieldwall skips its range).
      if ((start !== null && semver.valid(start) === null) || (end !== null && semver.valid(end) === null)) continue;
      if (start !== null && semver.lt(v, start)) continue;
      if (kind === 'open' || end === null) return true;
      const c = semver.compare(v, end);
      if (((kind === 'fixed' || kind === 'limit') && c < 0) || (kind === 'last_affected' && c <= 0)) return true;
    }
    return false;
  }));
  process.stdout.write(JSON.stringify(out));
});
"""


def node_semver_verdicts(jobs: list[tuple[list[Interval], list[str], list[str]]]) -> list[list[Verdict]]:
    """node-semver's verdicts for every job, in ONE node process."""
    proc = subprocess.run(
        [str(NODE), "-e", _NODE_SCRIPT],
        input=json.dumps(jobs).encode(),
        capture_output=True,
        env={"NODE_PATH": NODE_PATH, "PATH": "/usr/bin:/bin"},
        timeout=600,
        check=True,
    )
    result: list[list[Verdict]] = json.loads(proc.stdout)
    return result


def _pep440_cmp(a: str, b: str) -> int:
    va, vb = packaging.version.Version(a), packaging.version.Version(b)
    return (va > vb) - (va < vb)


@cache
def _debian_version() -> Any:
    if DIST_PACKAGES not in sys.path:
        sys.path.append(DIST_PACKAGES)  # python3-debian, installed by apt (test only)
    from debian.debian_support import Version

    return Version


@cache
def _debian_parsed(text: str) -> Any:
    return _debian_version()(text)


def _debian_cmp(a: str, b: str) -> int:
    va, vb = _debian_parsed(a), _debian_parsed(b)
    return (va > vb) - (va < vb)


def oracle_verdict(cmp: Callable[[str, str], int], affected: list[Affected], version: str) -> Verdict:
    """Listed by exact spelling, or inside a written-order interval of one entry (python comparators)."""
    if any(version in a.versions for a in affected):
        return True
    try:
        cmp(version, version)
    except (ValueError, packaging.version.InvalidVersion) as exc:
        return f"invalid: the oracle rejects {version} ({exc})"
    for entry in affected:
        for interval in written_intervals(entry):
            try:
                if inside(cmp, version, [interval]):
                    return True
            except (ValueError, packaging.version.InvalidVersion):
                continue  # a bound the oracle cannot parse: the interval is skipped, as Shieldwall skips its range
    return False


# --- Shieldwall's side ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One package of one advisory: every ``affected`` entry naming it."""

    advisory: Advisory
    ecosystem: str
    name: str
    entries: tuple[Affected, ...]
    others: tuple[str, ...] = ()  # versions other advisories of the feed list or bound for the same package

    def candidates(self) -> list[str]:
        """Every version the entries list or bound, then the package's other known versions, once."""
        out = [v for a in self.entries for v in (*bounds(a), *a.versions)]
        return list(dict.fromkeys([*out, *self.others]))


def groups(advisories: tuple[Advisory, ...], ecosystems: Callable[[str], bool]) -> Iterator[Group]:
    """(advisory, package) groups of the advisories' non-withdrawn entries in the wanted ecosystems."""
    for advisory in advisories:
        if advisory.withdrawn:
            continue
        by_key: dict[tuple[str, str], list[Affected]] = defaultdict(list)
        for affected in advisory.affected:
            if affected.ecosystem and ecosystems(affected.ecosystem):
                by_key[(affected.ecosystem, normalize_name(affected.ecosystem, affected.name))].append(affected)
        for (eco, _), entries in by_key.items():
            yield Group(advisory, eco, entries[0].name, tuple(entries))


_KIND = {"npm": PackageType.NPM, "PyPI": PackageType.PYPI}


def shieldwall_verdicts(group: Group, versions: list[str]) -> dict[str, Verdict]:
    """The real matcher's verdict on each version, with the advisory as the only one in the source."""
    eco = group.ecosystem
    os: OSInfo | None = None
    if eco.startswith("Debian:"):
        os = OSInfo("debian", "Debian GNU/Linux", eco.split(":", 1)[1])
        kind = PackageType.DEB
    else:
        kind = _KIND[eco]
    packages = []
    for i, version in enumerate(versions):
        # Distinct PURLs so each version is its own package; Debian advisories name source packages.
        extra = {"source_name": group.name, "source_version": version} if kind is PackageType.DEB else {}
        packages.append(Package(kind, group.name, version, f"pkg:x/{i}", locations=(Location(f"/{i}"),), **extra))  # type: ignore[arg-type]
    report = match_packages(packages, os, InMemoryAdvisories([group.advisory]))
    hit = {f.package_id for f in report.findings}
    bad = {w.rsplit(" (", 1)[0] for w in report.unparseable_installed}
    out: dict[str, Verdict] = {}
    for package in packages:
        if package.id in hit:
            out[package.version] = True
        elif f"{package.name} {package.version}" in bad:
            out[package.version] = f"invalid: shieldwall rejects {package.version}"
        elif report.skipped:
            out[package.version] = f"invalid: shieldwall skipped the package ({', '.join(report.skipped)})"
        else:
            out[package.version] = False
    return out


def range_verdict(eco: str, affected: Affected, version: str) -> Verdict:
    """Shieldwall's ranges-only verdict (the entry's list dropped)."""
    try:
        return evaluate(replace(affected, versions=()), version, scheme_for(eco)).affected
    except InvalidVersion:
        return f"invalid: shieldwall rejects {version}"


# --- the tally --------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Checks, agreements, and every disagreement with its reason."""

    checks: int = 0
    agreed: int = 0
    explained: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unexplained: list[str] = field(default_factory=list)

    def record(self, ours: Verdict, theirs: Verdict, what: str, explain: Callable[[], str]) -> None:
        self.checks += 1
        if ours == theirs or (isinstance(ours, str) and isinstance(theirs, str)):
            self.agreed += 1
            return
        reason = explain()
        line = f"{what}: shieldwall={ours} oracle={theirs}"
        if reason:
            self.explained[reason].append(line)
        else:
            self.unexplained.append(line)

    def report(self, feed: str, advisories: int, out: Path) -> str:
        text = [
            f"{feed}: {advisories} advisories, {self.checks} checks, agreement {self.agreed}/{self.checks} = "
            f"{100 * self.agreed / max(self.checks, 1):.4f}%; disagreements explained "
            f"{sum(len(v) for v in self.explained.values())}, unexplained {len(self.unexplained)}"
        ]
        for reason, lines in sorted(self.explained.items()):
            text.append(f"  [{len(lines)}] {reason}")
            text.extend(f"      {line}" for line in lines)
        text.extend(f"  UNEXPLAINED {line}" for line in self.unexplained)
        joined = "\n".join(text)
        print("\n" + joined)
        with (out / "agreement.txt").open("a", encoding="utf-8") as handle:
            handle.write(joined + "\n")
        return joined


def explain(eco: str, entries: tuple[Affected, ...], version: str, ours: Verdict, theirs: Verdict) -> str:
    """Why the two sides disagree, established by a check on the data; empty when no check explains it."""
    if isinstance(theirs, str):
        return f"the oracle cannot place the version, Shieldwall can ({theirs.removeprefix('invalid: ')})"
    if isinstance(ours, str):
        return f"Shieldwall cannot place a version the oracle can ({ours.removeprefix('invalid: ')})"
    scheme = scheme_for(eco)
    for affected in entries:
        for vrange in affected.ranges:
            texts = [
                v for e in vrange.events for v in (e.introduced, e.fixed, e.last_affected, e.limit) if v and v != "0"
            ]
            try:
                parsed = [scheme.parse(t) for t in texts]
            except InvalidVersion as exc:
                return f"a range bound Shieldwall cannot parse ({exc}): the range is skipped and counted as a warning"
            if any(b < a for a, b in itertools.pairwise(parsed)):
                return "events not written in ascending order: OSV's sorted walk and the written-order reading differ"
    return ""


def check_feed(feed: str, eco_filter: Callable[[str], bool], oracle: str) -> tuple[Tally, int]:
    """Both verdicts for every group of a feed. ``oracle`` is ``node-semver``, ``packaging`` or ``python-debian``."""
    advisories = load_feed(feed)
    tally = Tally()
    cmp = _pep440_cmp if oracle == "packaging" else _debian_cmp
    todo = list(groups(advisories, eco_filter))
    if feed != "debian":  # the language feeds are small: also check every version the feed knows for the package
        known: dict[tuple[str, str], set[str]] = defaultdict(set)
        for g in todo:
            known[(g.ecosystem, normalize_name(g.ecosystem, g.name))].update(g.candidates())
        todo = [
            replace(g, others=tuple(sorted(known[(g.ecosystem, normalize_name(g.ecosystem, g.name))]))) for g in todo
        ]
    # Advisory verdicts: the real matcher on every listed or bounding version.
    ours_all = [shieldwall_verdicts(g, g.candidates()) for g in todo]
    if oracle == "node-semver":
        jobs = [
            (
                [i for a in g.entries for i in written_intervals(a)],
                [v for a in g.entries for v in a.versions],
                g.candidates(),
            )
            for g in todo
        ]
        theirs_all = [
            dict(zip(job[2], verdicts, strict=True))
            for job, verdicts in zip(jobs, node_semver_verdicts(jobs), strict=True)
        ]
    else:
        theirs_all = [{v: oracle_verdict(cmp, list(g.entries), v) for v in g.candidates()} for g in todo]
    for g, ours, theirs in zip(todo, ours_all, theirs_all, strict=True):
        for version in g.candidates():
            what = f"{g.advisory.id} {g.ecosystem} {g.name} {version} (advisory verdict)"
            tally.record(
                ours[version],
                theirs[version],
                what,
                lambda g=g, v=version, o=ours[version], t=theirs[version]: explain(g.ecosystem, g.entries, v, o, t),
            )
    # Range verdicts on listed versions (the list dropped), deduplicated by (ranges, version) for speed.
    memo: dict[tuple[object, str], tuple[Verdict, Verdict]] = {}
    range_jobs: list[tuple[list[Interval], list[str], list[str]]] = []
    pending: list[tuple[Group, Affected, str]] = []
    for g in todo:
        for affected in g.entries:
            for version in affected.versions:
                pending.append((g, affected, version))
    if oracle == "node-semver":
        for g, affected, version in pending:
            range_jobs.append((written_intervals(affected), [], [version]))
        theirs_ranges = [v[0] for v in node_semver_verdicts(range_jobs)] if range_jobs else []
    for n, (g, affected, version) in enumerate(pending):
        key = (affected.ranges, version)
        pair = memo.get(key)
        if pair is None:
            ours_r = range_verdict(g.ecosystem, affected, version)
            if oracle == "node-semver":
                theirs_r: Verdict = theirs_ranges[n]
            else:
                theirs_r = oracle_verdict(cmp, [replace(affected, versions=())], version)
            pair = memo[key] = (ours_r, theirs_r)
        what = f"{g.advisory.id} {g.ecosystem} {g.name} {version} (ranges only)"
        tally.record(
            pair[0], pair[1], what, lambda g=g, a=affected, v=version, p=pair: explain(g.ecosystem, (a,), v, p[0], p[1])
        )
    return tally, len(advisories)


_PERL_DPKG = r"""
use strict; use warnings; use Dpkg::Version;
while (my $line = <STDIN>) {
    chomp $line;
    my ($a, $b) = split /\t/, $line, 2;
    my $r = eval { version_compare($a, $b) };
    print defined $r ? "$r\n" : "E\n";
}
"""


def dpkg_perl_compare(pairs: list[tuple[str, str]]) -> list[int | None]:
    """dpkg's own Perl implementation (``Dpkg::Version``), every pair in ONE perl process."""
    text = "".join(f"{a}\t{b}\n" for a, b in pairs)
    proc = subprocess.run(
        ["/usr/bin/perl", "-e", _PERL_DPKG], input=text.encode(), capture_output=True, timeout=600, check=True
    )
    return [None if r == "E" else int(r) for r in proc.stdout.decode().split()]


def dpkg_binary_compare(a: str, b: str) -> int:
    """``dpkg --compare-versions``: -1, 0 or 1 (no shell; the versions are argv)."""
    for op, result in (("lt", -1), ("eq", 0), ("gt", 1)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b], capture_output=True, timeout=30).returncode == 0:
            return result
    raise ValueError(f"dpkg cannot compare {a!r} and {b!r}")


def _check(feed: str, tmp_path: Path) -> Tally:
    _require(FEEDS[feed])
    conf = {
        "npm": (lambda e: e == "npm", "node-semver"),
        "pypi": (lambda e: e == "PyPI", "packaging"),
        "debian": (lambda e: e.startswith("Debian:"), "python-debian"),
    }[feed]
    if conf[1] == "node-semver" and not (NODE.is_file() and Path(NODE_PATH, "semver").is_dir()):
        pytest.skip("nodejs and node-semver are not installed")
    if conf[1] == "python-debian" and not Path(DIST_PACKAGES, "debian", "debian_support.py").is_file():
        pytest.skip("python3-debian is not installed")
    tally, count = check_feed(feed, *conf)
    tally.report(feed, count, tmp_path)
    assert not tally.unexplained, (
        f"{feed}: {len(tally.unexplained)} disagreements no check explains: {tally.unexplained[:20]}"
    )
    return tally


@pytest.mark.slow
def test_npm_ghsa_agrees_with_node_semver(tmp_path: Path) -> None:
    assert _check("npm", tmp_path).checks > 15_000


@pytest.mark.slow
def test_pypi_ghsa_agrees_with_packaging(tmp_path: Path) -> None:
    assert _check("pypi", tmp_path).checks > 150_000


@pytest.mark.slow
def test_debian_agrees_with_python_debian(tmp_path: Path) -> None:
    assert _check("debian", tmp_path).checks > 3_000_000


@pytest.mark.slow
def test_python_debian_agrees_with_dpkg_on_a_sample_of_the_feed(tmp_path: Path) -> None:
    """The Debian oracle is itself checked: python-debian against dpkg's Perl library and the dpkg binary."""
    _require(FEEDS["debian"])
    if not Path(DIST_PACKAGES, "debian", "debian_support.py").is_file():
        pytest.skip("python3-debian is not installed")
    if subprocess.run(["/usr/bin/perl", "-MDpkg::Version", "-e", "1"], capture_output=True, check=False).returncode:
        pytest.skip("dpkg's Perl library (libdpkg-perl) is not installed")
    pairs: set[tuple[str, str]] = set()
    for g in groups(load_feed("debian"), lambda e: e.startswith("Debian:")):
        for affected in g.entries:
            for bound in bounds(affected):
                pairs.update((v, bound) for v in affected.versions[:5])
    sample = random.Random(11).sample(sorted(pairs), min(20_000, len(pairs)))
    perl = dpkg_perl_compare(sample)
    ours = [_debian_cmp(a, b) for a, b in sample]
    differ = [(p, o, q) for p, o, q in zip(sample, ours, perl, strict=True) if o != q]
    binary_sample = sample[:200]
    binary_differ = [(a, b) for a, b in binary_sample if _debian_cmp(a, b) != dpkg_binary_compare(a, b)]
    text = (
        f"python-debian vs Dpkg::Version: {len(sample) - len(differ)}/{len(sample)} comparisons agree; "
        f"vs dpkg --compare-versions: {len(binary_sample) - len(binary_differ)}/{len(binary_sample)}"
    )
    print("\n" + text)
    (tmp_path / "agreement.txt").write_text(text + "\n", encoding="utf-8")
    assert not differ and not binary_differ, (differ[:20], binary_differ[:20])


def test_the_checks_catch_a_matcher_that_reads_only_the_first_entry() -> None:
    """The oracles can disagree: a verdict from the first ``affected`` entry alone is caught, on authored data."""
    from shieldwall.vulndb.osv import parse_osv

    def entry(introduced: str, fixed: str) -> dict[str, object]:
        events = [{"introduced": introduced}, {"fixed": fixed}]
        return {"package": {"ecosystem": "npm", "name": "qs"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}

    advisory = parse_osv({"id": "GHSA-TEST", "affected": [entry("6.10.0", "6.10.3"), entry("6.5.0", "6.5.3")]})
    (group,) = groups((advisory,), lambda e: e == "npm")
    assert group.candidates() == ["6.10.0", "6.10.3", "6.5.0", "6.5.3"]
    ours = shieldwall_verdicts(group, group.candidates())
    assert ours == {"6.10.0": True, "6.10.3": False, "6.5.0": True, "6.5.3": False}
    first_only = {v: range_verdict("npm", group.entries[0], v) for v in group.candidates()}
    pep440 = {v: oracle_verdict(_pep440_cmp, list(group.entries), v) for v in group.candidates()}
    assert pep440 == ours
    tally = Tally()
    for version in group.candidates():
        tally.record(first_only[version], pep440[version], version, lambda: "")
    assert tally.unexplained == ["6.5.0: shieldwall=False oracle=True"]
    if NODE.is_file() and Path(NODE_PATH, "semver").is_dir():
        jobs = [([i for a in group.entries for i in written_intervals(a)], [], group.candidates())]
        assert node_semver_verdicts(jobs) == [[True, False, True, False]]
