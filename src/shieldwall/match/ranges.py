"""Is an installed version inside an OSV ``affected[]`` entry? And what fixes it?

OSV's evaluation: each ``ECOSYSTEM``/``SEMVER`` range is a list of events.
Sort them by version (``introduced: "0"`` first; events at the same version
keep the order the advisory wrote them in, so ``fixed: 2.0`` followed by
``introduced: 2.0`` reopens the range at 2.0), then walk: ``introduced`` at or
below the version opens, ``fixed`` at or below it closes, ``last_affected``
strictly below it closes. ``limit`` events bound the whole range from above.
An explicit ``versions`` list matches on its own, by exact spelling (as
osv-scanner compares it): lists enumerate the ecosystem's own release
strings, and a differently spelled equal version (``1.0`` for ``1.0.0``) is
still caught by the ranges. ``GIT`` ranges name commits,
not versions: they are skipped and counted.

Versions the scheme cannot parse never match silently: they are reported in
``RangeVerdict.invalid`` so the caller can surface them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shieldwall.match.versions import InvalidVersion, ParsedVersion, VersionScheme
from shieldwall.vulndb.model import Affected, RangeEvent, RangeType, VersionRange

_KINDS = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True, slots=True)
class RangeVerdict:
    """The outcome of checking one version against one ``affected[]`` entry.

    ``matched_by`` says what matched, for the finding's evidence: a range
    rendered as ``ECOSYSTEM >=1.0 <1.2`` or ``versions list``. ``fixed`` is
    the closest fixed version above the installed one that is not itself
    affected (empty when there is none). ``invalid`` lists event or listed
    versions the scheme rejected; ``git_ranges_skipped`` counts GIT ranges.
    """

    affected: bool
    matched_by: str = ""
    fixed: str = ""
    invalid: tuple[str, ...] = ()
    git_ranges_skipped: int = 0


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str
    text: str
    version: ParsedVersion | None  # None for introduced "0"


def _kind_and_text(event: RangeEvent) -> tuple[str, str] | None:
    for kind in _KINDS:
        value: str = getattr(event, kind)
        if value:
            return kind, value
    return None


def _parse_events(vrange: VersionRange, scheme: VersionScheme, invalid: list[str]) -> list[_Event] | None:
    """The range's events parsed and sorted; None when one of them cannot be parsed."""
    events: list[_Event] = []
    for event in vrange.events:
        pair = _kind_and_text(event)
        if pair is None:
            continue
        kind, text = pair
        if kind == "introduced" and text == "0":
            events.append(_Event(kind, text, None))
            continue
        try:
            events.append(_Event(kind, text, scheme.parse(text)))
        except InvalidVersion:
            invalid.append(text)
            return None
    # Stable sort: "0" first, then by version; ties keep the advisory's own order.
    zero = [e for e in events if e.version is None]
    rest = sorted((e for e in events if e.version is not None), key=_version_of)
    return zero + rest


def _version_of(event: _Event) -> ParsedVersion:
    assert event.version is not None
    return event.version


def _in_events(version: ParsedVersion, events: Sequence[_Event]) -> bool:
    affected = False
    limits = [e.version for e in events if e.kind == "limit" and e.version is not None]
    for event in events:
        if event.kind == "introduced":
            if event.version is None or version >= event.version:
                affected = True
        elif event.kind == "fixed":
            if event.version is not None and version >= event.version:
                affected = False
        elif event.kind == "last_affected" and event.version is not None and version > event.version:
            affected = False
    if affected and limits and not any(version < limit for limit in limits):
        return False
    return affected


def describe_range(vrange: VersionRange) -> str:
    """A range as one line for evidence: ``SEMVER >=0 <1.2.3, >=2.0.0 <=2.1.0``."""
    parts: list[str] = []
    current = ""
    for event in vrange.events:
        pair = _kind_and_text(event)
        if pair is None:
            continue
        kind, text = pair
        if kind == "introduced":
            if current:
                parts.append(current)
            current = f">={text}"
        elif kind == "fixed":
            parts.append(f"{current} <{text}".strip())
            current = ""
        elif kind == "last_affected":
            parts.append(f"{current} <={text}".strip())
            current = ""
        else:
            parts.append(f"{current} limit<{text}".strip())
            current = ""
    if current:
        parts.append(current)
    return f"{vrange.type} " + ", ".join(parts)


def evaluate(affected: Affected, installed: str, scheme: VersionScheme) -> RangeVerdict:
    """Check ``installed`` against one ``affected[]`` entry of an advisory.

    An installed version the scheme cannot parse still matches an explicit
    ``versions`` entry spelled exactly the same (legacy, pre-PEP 440 releases);
    otherwise ``InvalidVersion`` is raised so that the caller reports the
    package as unmatchable rather than clean.
    """
    try:
        version = scheme.parse(installed)
    except InvalidVersion:
        if installed in affected.versions:
            return RangeVerdict(True, "versions list")
        raise
    invalid: list[str] = []
    git_skipped = 0
    matched_by = ""
    parsed_ranges: list[tuple[VersionRange, list[_Event]]] = []
    for vrange in affected.ranges:
        if vrange.type not in (RangeType.ECOSYSTEM, RangeType.SEMVER):
            git_skipped += 1
            continue
        events = _parse_events(vrange, scheme, invalid)
        if events is None:
            continue
        parsed_ranges.append((vrange, events))
        if not matched_by and _in_events(version, events):
            matched_by = describe_range(vrange)
    if not matched_by and installed in affected.versions:
        matched_by = "versions list"
    if not matched_by:
        return RangeVerdict(False, invalid=tuple(invalid), git_ranges_skipped=git_skipped)
    fixed = closest_fix(version, parsed_ranges)
    return RangeVerdict(True, matched_by, fixed, tuple(invalid), git_skipped)


def closest_fix(version: ParsedVersion, ranges: Sequence[tuple[VersionRange, Sequence[_Event]]]) -> str:
    """The lowest ``fixed`` version above ``version`` that no range of the entry still covers."""
    candidates = sorted(
        (e.version for _, events in ranges for e in events if e.kind == "fixed" and e.version is not None),
    )
    for candidate in candidates:
        if candidate > version and not any(_in_events(candidate, events) for _, events in ranges):
            return candidate.text
    return ""
