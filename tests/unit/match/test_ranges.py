"""OSV range evaluation: event kinds, ordering, explicit lists, GIT ranges, closest fix."""

from __future__ import annotations

import pytest

from shieldwall.match.ranges import describe_range, evaluate
from shieldwall.match.versions import InvalidVersion, scheme_for
from shieldwall.vulndb.model import Affected, RangeEvent, RangeType, VersionRange

PYPI = scheme_for("PyPI")
SEMVER = scheme_for("npm")


def entry(*events: RangeEvent, kind: RangeType = RangeType.ECOSYSTEM, versions: tuple[str, ...] = ()) -> Affected:
    return Affected("PyPI", "demo", ranges=(VersionRange(kind, events),), versions=versions)


def intro(v: str) -> RangeEvent:
    return RangeEvent(introduced=v)


def fixed(v: str) -> RangeEvent:
    return RangeEvent(fixed=v)


def last(v: str) -> RangeEvent:
    return RangeEvent(last_affected=v)


def limit(v: str) -> RangeEvent:
    return RangeEvent(limit=v)


@pytest.mark.parametrize(
    ("events", "version", "affected"),
    [
        ((intro("0"), fixed("1.2")), "1.1", True),
        ((intro("0"), fixed("1.2")), "1.2", False),
        ((intro("1.0"), fixed("1.2")), "0.9", False),
        ((intro("1.0"), fixed("1.2")), "1.0", True),
        ((intro("1.0"), last("1.2")), "1.2", True),
        ((intro("1.0"), last("1.2")), "1.2.post1", False),
        ((intro("0"),), "999", True),
        # Two intervals; between them is clean.
        ((intro("0"), fixed("1.2"), intro("2.0"), fixed("2.3")), "1.5", False),
        ((intro("0"), fixed("1.2"), intro("2.0"), fixed("2.3")), "2.1", True),
        # Unsorted events are sorted before the walk.
        ((intro("2.0"), fixed("2.3"), intro("0"), fixed("1.2")), "1.0", True),
        ((intro("2.0"), fixed("2.3"), intro("0"), fixed("1.2")), "1.5", False),
        # A range that reopens at its own fixed version: written order decides ties (fixed, then introduced).
        ((intro("0"), fixed("3.1.1"), intro("3.2.0"), fixed("3.2.2"), intro("3.1.1"), fixed("3.1.3")), "3.1.2", True),
        ((intro("0"), fixed("3.1.1"), intro("3.2.0"), fixed("3.2.2"), intro("3.1.1"), fixed("3.1.3")), "3.1.3", False),
        # limit bounds the range from above.
        ((intro("0"), limit("2.0")), "1.9", True),
        ((intro("0"), limit("2.0")), "2.0", False),
        # PEP 440 pre-releases sit below their release.
        ((intro("2.0"), fixed("2.1")), "2.0rc1", False),
        ((intro("0"), fixed("2.1")), "2.1rc1", True),
    ],
)
def test_events(events: tuple[RangeEvent, ...], version: str, affected: bool) -> None:
    assert evaluate(entry(*events), version, PYPI).affected is affected


def test_closest_fix_is_the_lowest_fix_above_that_is_not_itself_affected() -> None:
    # 1.2 fixes the first interval, but 1.2 is inside the second one: the real fix is 1.3.
    verdict = evaluate(
        entry(intro("0"), fixed("1.2"), intro("1.2"), fixed("1.3"), intro("2.0"), fixed("2.1")), "1.0", PYPI
    )
    assert verdict.affected and verdict.fixed == "1.3"
    assert evaluate(entry(intro("0"), fixed("1.2"), intro("2.0"), fixed("2.1")), "2.0.5", PYPI).fixed == "2.1"
    assert evaluate(entry(intro("0"), last("1.2")), "1.0", PYPI).fixed == ""


def test_explicit_versions_list_matches_by_spelling_even_when_unparseable() -> None:
    listed = entry(intro("5.0"), fixed("5.1"), versions=("0.7.1.fix1", "1.0"))
    verdict = evaluate(listed, "0.7.1.fix1", PYPI)
    assert verdict.affected and verdict.matched_by == "versions list"
    assert evaluate(listed, "1.0", PYPI).matched_by == "versions list"
    assert not evaluate(listed, "1.1", PYPI).affected
    with pytest.raises(InvalidVersion):
        evaluate(listed, "0.7.2.fix1", PYPI)


def test_git_ranges_are_skipped_and_counted() -> None:
    git = Affected(
        "PyPI",
        "demo",
        ranges=(
            VersionRange(RangeType.GIT, (intro("0"), fixed("7dd3680e6eea0d77fde024763657aa4d884ddb23")), "https://x"),
            VersionRange(RangeType.ECOSYSTEM, (intro("0"), fixed("3.1.3"))),
        ),
    )
    verdict = evaluate(git, "3.1.2", PYPI)
    assert verdict.affected and verdict.git_ranges_skipped == 1 and verdict.fixed == "3.1.3"
    only_git = Affected("PyPI", "demo", ranges=(VersionRange(RangeType.GIT, (intro("0"),), "https://x"),))
    verdict = evaluate(only_git, "1.0", PYPI)
    assert not verdict.affected and verdict.git_ranges_skipped == 1


def test_an_unparseable_event_disables_only_its_range_and_is_reported() -> None:
    bad = Affected(
        "PyPI",
        "demo",
        ranges=(
            VersionRange(RangeType.ECOSYSTEM, (intro("0"), fixed("2019-09-12"))),
            VersionRange(RangeType.ECOSYSTEM, (intro("1.0"), fixed("1.5"))),
        ),
    )
    verdict = evaluate(bad, "1.2", PYPI)
    assert verdict.affected and verdict.invalid == ("2019-09-12",)
    assert not evaluate(bad, "0.5", PYPI).affected


def test_semver_ranges_and_descriptions() -> None:
    rng = VersionRange(RangeType.SEMVER, (intro("0"), fixed("1.2.3"), intro("2.0.0"), last("2.1.0")))
    affected = Affected("npm", "x", ranges=(rng,))
    assert evaluate(affected, "2.1.0", SEMVER).affected
    assert not evaluate(affected, "2.1.1", SEMVER).affected
    assert evaluate(affected, "1.2.3-rc.1", SEMVER).affected
    assert describe_range(rng) == "SEMVER >=0 <1.2.3, >=2.0.0 <=2.1.0"
