"""RustSec advisories to OSV SEMVER ranges, checked against an independent Cargo requirement matcher."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import semver

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.importers.rustsec import (
    affected_events,
    iter_rustsec_dir,
    parse_rustsec,
    requirement_interval,
    smallest_above,
)
from shieldwall.vulndb.model import RangeEvent, RangeType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb" / "rustsec"
_COMP = re.compile(r"^\s*(>=|<=|>|<|=|\^|~)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")


# ----------------------------------------------------------------------------- an independent oracle


def cargo_matches(requirement: str, version: tuple[int, int, int]) -> bool:
    """Cargo semantics for release versions, by truncated tuple comparison (written from Cargo's docs)."""
    for comparator in requirement.split(","):
        m = _COMP.match(comparator)
        assert m, comparator
        op = m.group(1) or "^"
        parts = tuple(int(g) for g in m.groups()[1:] if g is not None)
        n = len(parts)
        head = version[:n]
        ok = {
            "=": head == parts,
            ">": head > parts,
            ">=": head >= parts,
            "<": head < parts,
            "<=": head <= parts,
        }.get(op)
        if op == "~":
            ok = version[0] == parts[0] if n == 1 else (version[:2] == parts[:2] and head >= parts)
        elif op == "^":
            if parts[0] > 0 or n == 1:
                ok = version[0] == parts[0] and head >= parts
            elif n == 2 or parts[1] > 0:
                ok = version[:2] == parts[:2] and head >= parts
            else:
                ok = version == parts
        if not ok:
            return False
    return True


def osv_affected(events: tuple[RangeEvent, ...], version: str) -> bool:
    """The OSV evaluation of one SEMVER range (events are in ascending order)."""
    v = semver.Version.parse(version)
    affected = False
    for e in events:
        if e.introduced and (e.introduced == "0" or v.compare(e.introduced) >= 0):
            affected = True
        elif (e.fixed and v.compare(e.fixed) >= 0) or (e.last_affected and v.compare(e.last_affected) > 0):
            affected = False
    return affected


def _candidates(requirements: list[str]) -> set[tuple[int, int, int]]:
    numbers: set[tuple[int, int, int]] = {(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (99, 99, 99)}
    for requirement in requirements:
        for m in re.finditer(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", requirement):
            a, b, c = (int(g) if g else 0 for g in m.groups())
            for da, db, dc in itertools.product((-1, 0, 1), repeat=3):
                numbers.add((max(a + da, 0), max(b + db, 0), max(c + dc, 0)))
            numbers.update({(a, b + 1, 0), (a + 1, 0, 0), (a, 0, 0)})
    return numbers


def _assert_consistent(patched: list[str], unaffected: list[str]) -> int:
    events = affected_events(patched, unaffected)
    checked = 0
    for version in sorted(_candidates([*patched, *unaffected])):
        expected = not any(cargo_matches(r, version) for r in [*patched, *unaffected])
        text = ".".join(map(str, version))
        assert osv_affected(events, text) is expected, (patched, unaffected, text, events)
        checked += 1
    return checked


# ----------------------------------------------------------------------------- conversion cases


def _pairs(events: tuple[RangeEvent, ...]) -> list[tuple[str, str]]:
    out = []
    for e in events:
        for key in ("introduced", "fixed", "last_affected"):
            if getattr(e, key):
                out.append((key, getattr(e, key)))
    return out


@pytest.mark.parametrize(
    ("patched", "unaffected", "expected"),
    [
        ([], [], [("introduced", "0")]),
        ([">= 1.2.3"], [], [("introduced", "0"), ("fixed", "1.2.3")]),
        (
            [">= 1.0.2, < 2.0.0", ">= 2.0.2"],
            [],
            [("introduced", "0"), ("fixed", "1.0.2"), ("introduced", "2.0.0"), ("fixed", "2.0.2")],
        ),
        ([">= 0.4.5"], ["< 0.4.0"], [("introduced", "0.4.0"), ("fixed", "0.4.5")]),
        (
            ["^0.6.2", ">= 0.7.1"],
            [],
            [("introduced", "0"), ("fixed", "0.6.2"), ("introduced", "0.7.0"), ("fixed", "0.7.1")],
        ),
        (["> 1.0.0"], [], [("introduced", "0"), ("last_affected", "1.0.0")]),
        ([], ["<= 1.2.3"], [("introduced", "1.2.4-0")]),
        (
            [">= 111.25, < 300.0", ">= 300.0.12"],
            [],
            [("introduced", "0"), ("fixed", "111.25.0"), ("introduced", "300.0.0"), ("fixed", "300.0.12")],
        ),
        (["=1.0.0"], [], [("introduced", "0"), ("fixed", "1.0.0"), ("introduced", "1.0.1-0")]),
        (["0.25.4"], [], [("introduced", "0"), ("fixed", "0.25.4"), ("introduced", "0.26.0")]),
        (["^ 0.30.2"], ["< 0.3"], [("introduced", "0.3.0"), ("fixed", "0.30.2"), ("introduced", "0.31.0")]),
        (["~1.2.3"], [], [("introduced", "0"), ("fixed", "1.2.3"), ("introduced", "1.3.0")]),
        (["^0.0.3"], [], [("introduced", "0"), ("fixed", "0.0.3"), ("introduced", "0.0.4")]),
        (
            [">= 1.5"],
            ["< 1.2", ">= 1.3, < 1.4"],
            [("introduced", "1.2.0"), ("fixed", "1.3.0"), ("introduced", "1.4.0"), ("fixed", "1.5.0")],
        ),
        ([">= 1.0.0"], ["< 2.0.0"], []),  # overlapping: nothing affected
        (["> 1.2"], [], [("introduced", "0"), ("fixed", "1.3.0")]),
        (["1.*"], [], [("introduced", "0"), ("fixed", "1.0.0"), ("introduced", "2.0.0")]),
        (["*"], [], []),
        ([">= 0.0.0"], [], []),
    ],
)
def test_conversion(patched: list[str], unaffected: list[str], expected: list[tuple[str, str]]) -> None:
    assert _pairs(affected_events(patched, unaffected)) == expected
    if not any("*" in r for r in [*patched, *unaffected]):
        _assert_consistent(patched, unaffected)


def test_smallest_above_is_the_successor_in_semver_order() -> None:
    for text in ("1.2.3", "0.0.0", "1.2.3-alpha", "1.2.3-alpha.1"):
        v = semver.Version.parse(text)
        nxt = smallest_above(v)
        assert nxt > v
        for probe in ("1.2.4-alpha", "1.2.3-alpha.0.1", "1.2.3-beta", "1.2.4", "0.0.1-0"):
            p = semver.Version.parse(probe)
            assert not (v < p < nxt), (text, probe)


def test_pre_release_comparators() -> None:
    interval = requirement_interval(">= 1.0.0-beta.2, < 1.0.0")
    assert interval.lower is not None and str(interval.lower.version) == "1.0.0-beta.2"
    assert _pairs(affected_events([">= 1.0.0-beta.2"], [])) == [("introduced", "0"), ("fixed", "1.0.0-beta.2")]


@pytest.mark.parametrize("bad", ["", ">= ", "latest", ">= 1.2.3.4", "=> 1.0"])
def test_unreadable_requirements_are_errors(bad: str) -> None:
    front = f'[advisory]\nid = "RUSTSEC-1"\npackage = "p"\ndate = "2020-01-01"\n[versions]\npatched = ["{bad}"]'
    text = f"```toml\n{front}\n```\n"
    with pytest.raises(CorruptInputError, match=r"x\.md"):
        parse_rustsec(text, "x.md")


def test_parse_markdown_advisory() -> None:
    path = FIXTURES / "crates" / "example-crate" / "RUSTSEC-2099-0001.md"
    advisory = parse_rustsec(path.read_text(), str(path), source="t")
    assert advisory.id == "RUSTSEC-2099-0001"
    assert advisory.aliases == ("CVE-2099-1000", "GHSA-aaaa-bbbb-cccc")
    assert advisory.published == advisory.modified == "2099-01-02T00:00:00Z"
    assert advisory.summary == "Out-of-bounds read in parse"
    assert advisory.details.startswith("`parse` trusted a length field.")
    assert advisory.severity[0].type == "CVSS_V3"
    (affected,) = advisory.affected
    assert (affected.ecosystem, affected.name, affected.purl) == (
        "crates.io",
        "example-crate",
        "pkg:cargo/example-crate",
    )
    (rng,) = affected.ranges
    assert rng.type is RangeType.SEMVER
    assert _pairs(rng.events) == [
        ("introduced", "0.5.0"),
        ("fixed", "1.0.2"),
        ("introduced", "1.1.0"),
        ("fixed", "1.2.3"),
    ]
    assert dict(affected.ecosystem_specific)["functions"] == '{"example_crate::parse":["< 1.2.3"]}'
    assert "https://rustsec.org/advisories/RUSTSEC-2099-0001.html" in advisory.references


def test_directory_import_skips_toolchain_and_readme() -> None:
    warnings: list[str] = []
    advisories = list(iter_rustsec_dir(FIXTURES, warnings))
    assert sorted(a.id for a in advisories) == ["RUSTSEC-2099-0001", "RUSTSEC-2099-0002"]
    informational = next(a for a in advisories if a.id == "RUSTSEC-2099-0002")
    assert dict(informational.extra)["informational"] == "unmaintained"
    assert _pairs(informational.affected[0].ranges[0].events) == [("introduced", "0")]
    assert len(warnings) == 1 and "1 Rust toolchain" in warnings[0]


def test_missing_front_matter(tmp_path: Path) -> None:
    with pytest.raises(CorruptInputError, match="front matter"):
        parse_rustsec("# just markdown\n", "y.md")
    with pytest.raises(CorruptInputError, match="package"):
        parse_rustsec('```toml\n[advisory]\nid = "R-1"\n```\n', "z.md")


def test_real_advisory_db_converts_and_agrees_with_cargo_semantics(shared_data: Path) -> None:
    import tomllib

    root = shared_data / "advisories" / "rustsec"
    warnings: list[str] = []
    advisories = list(iter_rustsec_dir(root, warnings))
    assert len(advisories) == 1205
    assert warnings == [f"{root}: 20 Rust toolchain advisories (rust/...) skipped: not crates.io packages"]
    checked = 0
    for path in sorted((root / "crates").rglob("RUSTSEC-*.md")):
        front = re.match(r"```toml\n(.*?)\n```", path.read_text(), re.S)
        assert front
        versions = tomllib.loads(front.group(1)).get("versions", {})
        patched, unaffected = versions.get("patched", []), versions.get("unaffected", [])
        if any("-" in r for r in [*patched, *unaffected]):
            continue  # pre-release comparators: covered by hand-written cases
        checked += _assert_consistent(patched, unaffected)
    print(f"rustsec: {len(advisories)} advisories, {checked} version/requirement checks agree")
    assert checked > 10000
