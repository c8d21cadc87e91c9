"""Matching agrees with real advisories' own data (../shared/data/osv).

PyPI (2,661 PyPA advisories): most list the affected versions explicitly next
to their ECOSYSTEM ranges. For every advisory, every listed version must fall
inside the ranges (evaluated without the list), and versions outside the list
must not: the ``fixed`` versions, and the package's real releases (every
version some PyPA advisory lists for that package) up to the newest listed
one. Versions PEP 440 cannot parse (pre-PEP 440 releases) cannot be placed in
a range; they must still match through the explicit list, and are counted
apart.

Go (golang/vulndb): no version lists, so the oracle is the advisory's own
SEMVER events read as intervals in the order written (introduced -> next
fixed/last_affected), without sorting; the sample is every event version of
the module across the whole database. The matcher (sort, then walk) must agree.

Advisories whose own data is inconsistent are listed, with the reason, in
docs/notes/osv-inconsistencies.md and excluded by ID; a listed ID that turns
out consistent fails the test too, so the list cannot hide a matching bug.

Run with ``-s`` to see the agreement rates; they are also written to
``agreement.txt`` in the test's temporary directory. To regenerate the
documented list after a data change: ``PYTHONPATH=src:tests python -m
unit.match.test_osv_consistency``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pytest

from shieldwall.match.ranges import evaluate
from shieldwall.match.versions import InvalidVersion, ParsedVersion, VersionScheme, scheme_for
from shieldwall.vulndb.model import Advisory, Affected, RangeType
from shieldwall.vulndb.osv import load_osv_path

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "data" / "osv"
DOCUMENTED = ROOT / "docs" / "notes" / "osv-inconsistencies.md"
_ROW = re.compile(r"^\|\s*`?([A-Z]+-[\w-]+)`?\s*\|\s*(pypi|go)\s*\|")


@dataclass
class Tally:
    """Checks made, agreements, and the disagreements of each advisory."""

    checks: int = 0
    agreed: int = 0
    legacy: int = 0
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, advisory_id: str, ok: bool, problem: str) -> None:
        self.checks += 1
        if ok:
            self.agreed += 1
        else:
            self.problems[advisory_id].append(problem)

    def rate(self, excluded: Iterable[str] = ()) -> tuple[int, int]:
        skip = set(excluded)
        bad = sum(len(v) for k, v in self.problems.items() if k in skip)
        return self.agreed, self.checks - bad


def documented(corpus: str) -> dict[str, str]:
    """IDs listed in docs/notes/osv-inconsistencies.md for ``corpus`` (``pypi`` or ``go``)."""
    out = {}
    for line in DOCUMENTED.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match and match.group(2) == corpus:
            out[match.group(1)] = line
    return out


@cache
def _load(corpus: str) -> tuple[Advisory, ...]:
    folder = SHARED / ("pypi/vulns" if corpus == "pypi" else "go/data/osv")
    pattern = "*.yaml" if corpus == "pypi" else "*.json"
    return tuple(a for path in sorted(folder.rglob(pattern)) for a in load_osv_path(path))


def _parse(scheme: VersionScheme, text: str) -> ParsedVersion | None:
    try:
        return scheme.parse(text)
    except InvalidVersion:
        return None


def _has_ranges(affected: Affected) -> bool:
    return any(r.type is RangeType.ECOSYSTEM or r.type is RangeType.SEMVER for r in affected.ranges)


def check_pypi(advisories: Iterable[Advisory]) -> Tally:
    """Listed versions inside the ranges, fixed versions and unlisted real releases outside them."""
    scheme = scheme_for("PyPI")
    advisories = list(advisories)
    releases: dict[str, set[str]] = defaultdict(set)
    for advisory in advisories:
        for affected in advisory.affected:
            releases[affected.name.lower()].update(affected.versions)
    tally = Tally()
    for advisory in advisories:
        for affected in advisory.affected:
            ranges_only = replace(affected, versions=())
            listed_parsed = []
            for version in affected.versions:
                parsed = _parse(scheme, version)
                if parsed is None:
                    tally.legacy += 1
                    verdict = evaluate(affected, version, scheme)
                    tally.record(advisory.id, verdict.affected, f"listed {version} not matched by its list")
                    continue
                listed_parsed.append(parsed)
                if not _has_ranges(affected):
                    tally.record(advisory.id, evaluate(affected, version, scheme).affected, f"listed {version}")
                    continue
                verdict = evaluate(ranges_only, version, scheme)
                tally.record(advisory.id, verdict.affected, f"listed {version} outside the ranges")
                if verdict.invalid:
                    tally.problems[advisory.id].append(f"unparseable range version {verdict.invalid[0]}")
            if not _has_ranges(affected):
                continue
            top = max(listed_parsed) if listed_parsed else None
            outside: dict[str, str] = {}
            for vrange in affected.ranges:
                for event in vrange.events:
                    if vrange.type is RangeType.ECOSYSTEM and event.fixed:
                        outside[event.fixed] = "fixed"
            if top is not None:
                for version in releases[affected.name.lower()]:
                    parsed = _parse(scheme, version)
                    if parsed is not None and parsed <= top:
                        outside.setdefault(version, "unlisted release")
            for version, why in sorted(outside.items()):
                parsed = _parse(scheme, version)
                if parsed is None:
                    tally.problems[advisory.id].append(f"unparseable {why} version {version}")
                    tally.checks += 1
                    continue
                if any(parsed == p for p in listed_parsed):
                    continue
                verdict = evaluate(ranges_only, version, scheme)
                tally.record(advisory.id, not verdict.affected, f"{why} {version} inside {verdict.matched_by}")
    return tally


def _written_intervals(affected: Affected, scheme: VersionScheme) -> list[tuple[ParsedVersion | None, str, object]]:
    """SEMVER events read pairwise in the order written: (start or None for 0, end kind, end)."""
    out: list[tuple[ParsedVersion | None, str, object]] = []
    for vrange in affected.ranges:
        if vrange.type is not RangeType.SEMVER:
            continue
        start: ParsedVersion | None = None
        open_ = False
        for event in vrange.events:
            if event.introduced:
                if open_:
                    out.append((start, "open", None))
                start = None if event.introduced == "0" else scheme.parse(event.introduced)
                open_ = True
            elif event.fixed and open_:
                out.append((start, "fixed", scheme.parse(event.fixed)))
                open_ = False
            elif event.last_affected and open_:
                out.append((start, "last_affected", scheme.parse(event.last_affected)))
                open_ = False
        if open_:
            out.append((start, "open", None))
    return out


def _oracle(version: ParsedVersion, intervals: list[tuple[ParsedVersion | None, str, object]]) -> bool:
    for start, kind, end in intervals:
        if start is not None and version < start:
            continue
        if kind == "open":
            return True
        assert isinstance(end, ParsedVersion)
        if (kind == "fixed" and version < end) or (kind == "last_affected" and version <= end):
            return True
    return False


def check_go(advisories: Iterable[Advisory]) -> Tally:
    """The matcher against the written-order interval oracle, on every event version of each module."""
    scheme = scheme_for("Go")
    advisories = list(advisories)
    module_versions: dict[str, set[str]] = defaultdict(set)
    for advisory in advisories:
        for affected in advisory.affected:
            for vrange in affected.ranges:
                for event in vrange.events:
                    for text in (event.introduced, event.fixed, event.last_affected):
                        if text and text != "0":
                            module_versions[affected.name].add(text)
    tally = Tally()
    for advisory in advisories:
        for affected in advisory.affected:
            if not any(r.type is RangeType.SEMVER for r in affected.ranges):
                continue
            try:
                intervals = _written_intervals(affected, scheme)
            except InvalidVersion as exc:
                tally.record(advisory.id, False, f"unparseable SEMVER event: {exc}")
                continue
            for version in sorted(module_versions[affected.name]):
                parsed = _parse(scheme, version)
                if parsed is None:
                    tally.record(advisory.id, False, f"unparseable version {version}")
                    continue
                expected = _oracle(parsed, intervals)
                actual = evaluate(affected, version, scheme).affected
                tally.record(advisory.id, expected == actual, f"{version}: written order says {expected}")
    return tally


def _report(corpus: str, tally: Tally, known: dict[str, str], out: Path) -> str:
    raw_agreed, raw_checks = tally.agreed, tally.checks
    agreed, checks = tally.rate(known)
    inconsistent = sorted(tally.problems)
    text = (
        f"{corpus}: {len(_load(corpus))} advisories, {raw_checks} checks, "
        f"raw agreement {raw_agreed}/{raw_checks} = {100 * raw_agreed / raw_checks:.3f}% "
        f"({len(inconsistent)} advisories with self-inconsistent data, documented: {len(known)}); "
        f"after excluding the documented advisories {agreed}/{checks} = {100 * agreed / checks:.3f}%"
        + (f"; {tally.legacy} listed non-PEP 440 versions matched through the list" if tally.legacy else "")
    )
    print("\n" + text)
    with (out / "agreement.txt").open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return text


def _assert_documented(corpus: str, tally: Tally, known: dict[str, str]) -> None:
    undocumented = {k: v[:3] for k, v in tally.problems.items() if k not in known}
    assert not undocumented, f"{corpus}: matching disagrees with these advisories' own data: {undocumented}"
    stale = sorted(set(known) - set(tally.problems))
    assert not stale, f"{corpus}: documented as inconsistent but consistent now (remove them): {stale}"
    agreed, checks = tally.rate(known)
    assert agreed == checks, f"{corpus}: agreement {agreed}/{checks} is below 100%"


def test_pypi_listed_versions_agree_with_ranges(tmp_path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    advisories = _load("pypi")
    assert len(advisories) == 2661
    tally = check_pypi(advisories)
    known = documented("pypi")
    _report("pypi", tally, known, tmp_path)
    assert tally.checks > 150_000
    _assert_documented("pypi", tally, known)


def test_go_semver_ranges_agree_with_their_written_intervals(tmp_path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    advisories = _load("go")
    assert len(advisories) > 4000
    tally = check_go(advisories)
    known = documented("go")
    _report("go", tally, known, tmp_path)
    assert tally.checks > 50_000
    _assert_documented("go", tally, known)


def test_the_checks_catch_a_wrong_matcher_on_authored_data() -> None:
    """The consistency checks themselves can fail: a listed version outside the ranges is caught."""
    doc = {
        "id": "PYSEC-TEST-1",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]}],
                "versions": ["1.0", "1.1", "1.2"],
            }
        ],
    }
    from shieldwall.vulndb.osv import parse_osv

    tally = check_pypi([parse_osv(doc)])
    assert tally.problems == {"PYSEC-TEST-1": ["listed 1.2 outside the ranges"]}
    go = parse_osv(
        {
            "id": "GO-TEST-1",
            "affected": [
                {
                    "package": {"ecosystem": "Go", "name": "example.com/m"},
                    "ranges": [
                        {
                            "type": "SEMVER",
                            "events": [{"introduced": "1.5.0"}, {"fixed": "1.6.0"}, {"introduced": "0"}],
                        }
                    ],
                }
            ],
        }
    )
    # Written order: [1.5.0, 1.6.0) then [0, inf) covers 1.6.0; OSV's sorted walk closes at 1.6.0. Caught.
    assert check_go([go]).problems == {"GO-TEST-1": ["1.6.0: written order says True"]}


def _markdown_rows(corpus: str, tally: Tally) -> list[str]:
    rows = []
    for ident in sorted(tally.problems):
        problems = tally.problems[ident]
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        rows.append(f"| {ident} | {corpus} | {shown} |")
    return rows


if __name__ == "__main__":  # regenerate the table rows for docs/notes/osv-inconsistencies.md
    print("\n".join(_markdown_rows("pypi", check_pypi(_load("pypi")))))
    print("\n".join(_markdown_rows("go", check_go(_load("go")))))
