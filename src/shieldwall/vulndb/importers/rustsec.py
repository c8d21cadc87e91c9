"""RustSec advisory-db: TOML front matter in Markdown, converted to OSV ``SEMVER`` ranges.

An advisory states which versions are *not* affected: ``[versions] patched``
and ``unaffected``, each a list of Cargo requirements (``">= 1.2.3, < 1.3"``,
``"^0.4.5"``, ``"= 1.0.0"``). Each requirement is the intersection of its
comparators, an interval of semver versions; the unaffected set is the union
of those intervals, and the affected versions are its complement, written as
OSV events:

- a gap starting at minus infinity is ``introduced: "0"``;
- a gap closed by an unaffected interval that starts at ``v`` inclusive ends
  with ``fixed: v``; one that starts after ``v`` (``> v``) ends with
  ``last_affected: v``;
- a gap that begins after an inclusive bound ``<= v`` starts at the smallest
  semver above ``v``: ``v.major.minor.(patch+1)-0`` for a release,
  ``v-pre.0`` for a pre-release (semver 2.0 precedence, checked with the
  ``semver`` library);
- a gap that begins at an exclusive bound ``< v`` starts at ``v``.

Cargo's rule that a requirement only matches a pre-release when a comparator
names the same ``major.minor.patch`` with a pre-release is not expressible
in OSV ranges and is not modelled: ranges are plain semver intervals.

Advisories for the Rust toolchain (``rust/std``, ``rust/cargo``...) are not
crates.io packages; they are skipped with a counted warning.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import semver

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.importers.archive import DEFAULT_LIMITS, ArchiveLimits, walk_files
from shieldwall.vulndb.model import Advisory, Affected, RangeEvent, RangeType, Severity, VersionRange

ECOSYSTEM = "crates.io"

_FRONT_MATTER = re.compile(r"\A\s*```toml[ \t]*\r?\n(.*?)\r?\n```[ \t]*(?:\r?\n|\Z)", re.S)
_ADVISORY_FILE = re.compile(r"^[A-Z]+-\d{4}-\d+\.(?:md|toml)$")
_COMPARATOR = re.compile(r"^\s*(>=|<=|>|<|=|\^|~)?\s*([0-9A-Za-z.*+\-]+)\s*$")
_PARTIAL = re.compile(
    r"^(?P<major>\d+|[*xX])(?:\.(?P<minor>\d+|[*xX]))?(?:\.(?P<patch>\d+|[*xX]))?"
    r"(?:-(?P<pre>[0-9A-Za-z\-.]+))?(?:\+[0-9A-Za-z\-.]+)?$"
)


class RequirementError(ValueError):
    """A Cargo version requirement this converter cannot read."""


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of an interval: a version and whether it belongs to the interval."""

    version: semver.Version
    inclusive: bool


@dataclass(frozen=True, slots=True)
class Interval:
    """Versions between ``lower`` and ``upper``; None means unbounded on that side."""

    lower: Bound | None
    upper: Bound | None

    def is_empty(self) -> bool:
        """True when no version lies in the interval."""
        if self.lower is None or self.upper is None:
            return False
        order = self.lower.version.compare(self.upper.version)
        return order > 0 or (order == 0 and not (self.lower.inclusive and self.upper.inclusive))


_EVERYTHING = Interval(None, None)


def _v(major: int, minor: int = 0, patch: int = 0, pre: str | None = None) -> semver.Version:
    return semver.Version(major, minor, patch, pre)


def _comparator(text: str) -> Interval:
    """The interval of one Cargo comparator (``>= 1.2``, ``^0.3.1``, ``1.*``...)."""
    m = _COMPARATOR.match(text)
    if not m:
        raise RequirementError(f"unreadable comparator {text!r}")
    op, raw = m.group(1) or "^", m.group(2)
    if raw in ("*", "x", "X"):
        return _EVERYTHING
    p = _PARTIAL.match(raw)
    if not p:
        raise RequirementError(f"unreadable version {raw!r} in {text!r}")
    parts = [p.group("major"), p.group("minor"), p.group("patch")]
    # a wildcard component ends the version: "1.*" is the partial version "1"
    given: list[int] = []
    for part in parts:
        if part is None or part in ("*", "x", "X"):
            break
        given.append(int(part))
    if not given:
        return _EVERYTHING
    wildcard = len(given) < 3 and any(part in ("*", "x", "X") for part in parts if part is not None)
    if wildcard:
        op = "="  # "1.2.*" means exactly the 1.2 series, whatever the operator says in practice
    pre = p.group("pre") if len(given) == 3 else None
    major = given[0]
    minor = given[1] if len(given) > 1 else 0
    patch = given[2] if len(given) > 2 else 0
    floor = _v(major, minor, patch, pre)
    n = len(given)

    def next_series() -> semver.Version:
        # the first version above every version the partial names: 1 -> 2.0.0, 1.2 -> 1.3.0
        return _v(major + 1) if n == 1 else _v(major, minor + 1)

    if op == "=":
        return Interval(Bound(floor, True), Bound(floor, True) if n == 3 else Bound(next_series(), False))
    if op == ">=":
        return Interval(Bound(floor, True), None)
    if op == ">":
        return Interval(Bound(floor, False), None) if n == 3 else Interval(Bound(next_series(), True), None)
    if op == "<":
        return Interval(None, Bound(floor, False))
    if op == "<=":
        return Interval(None, Bound(floor, True)) if n == 3 else Interval(None, Bound(next_series(), False))
    if op == "~":
        upper = _v(major + 1) if n == 1 else _v(major, minor + 1)
        return Interval(Bound(floor, True), Bound(upper, False))
    # caret: compatible updates, i.e. keep the left-most non-zero component
    if major > 0 or n == 1:
        upper = _v(major + 1)
    elif minor > 0 or n == 2:
        upper = _v(0, minor + 1)
    else:
        upper = _v(0, 0, patch + 1)
    return Interval(Bound(floor, True), Bound(upper, False))


def _max_lower(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None:
        return b
    if b is None:
        return a
    order = a.version.compare(b.version)
    if order != 0:
        return a if order > 0 else b
    return a if not a.inclusive else b


def _min_upper(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None:
        return b
    if b is None:
        return a
    order = a.version.compare(b.version)
    if order != 0:
        return a if order < 0 else b
    return a if not a.inclusive else b


def requirement_interval(requirement: str) -> Interval:
    """The interval of a Cargo requirement: the intersection of its comma-separated comparators."""
    comparators = [c for c in requirement.split(",") if c.strip()]
    if not comparators:
        raise RequirementError(f"empty requirement {requirement!r}")
    lower: Bound | None = None
    upper: Bound | None = None
    for text in comparators:
        interval = _comparator(text)
        lower = _max_lower(lower, interval.lower)
        upper = _min_upper(upper, interval.upper)
    return Interval(lower, upper)


def _lower_key(interval: Interval) -> tuple[int, semver.Version, int]:
    if interval.lower is None:
        return (0, _v(0), 0)
    return (1, interval.lower.version, 0 if interval.lower.inclusive else 1)


def union(intervals: list[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-adjacent intervals covering the same versions as ``intervals``."""
    items = sorted((i for i in intervals if not i.is_empty()), key=_lower_key)
    merged: list[Interval] = []
    for item in items:
        if not merged:
            merged.append(item)
            continue
        last = merged[-1]
        if last.upper is None:
            break  # the last interval already runs to +inf
        if item.lower is None:
            touches = True
        else:
            order = last.upper.version.compare(item.lower.version)
            touches = order > 0 or (order == 0 and (last.upper.inclusive or item.lower.inclusive))
        if touches:
            merged[-1] = Interval(last.lower, None if item.upper is None else _max_upper(last.upper, item.upper))
        else:
            merged.append(item)
    return merged


def _max_upper(a: Bound, b: Bound) -> Bound:
    order = a.version.compare(b.version)
    if order != 0:
        return a if order > 0 else b
    return a if a.inclusive else b


def smallest_above(version: semver.Version) -> semver.Version:
    """The smallest semver version strictly greater than ``version`` (build metadata ignored)."""
    if version.prerelease:
        return _v(version.major, version.minor, version.patch, f"{version.prerelease}.0")
    return _v(version.major, version.minor, version.patch + 1, "0")


def _text(version: semver.Version) -> str:
    return str(version.replace(build=None))


def affected_events(patched: list[str], unaffected: list[str]) -> tuple[RangeEvent, ...]:
    """OSV events for the versions outside every ``patched`` and ``unaffected`` requirement."""
    safe = union([requirement_interval(r) for r in [*patched, *unaffected]])
    zero = _v(0)
    events: list[RangeEvent] = []
    start: RangeEvent | None = RangeEvent(introduced="0")
    for interval in safe:
        lower = interval.lower
        if lower is not None and not (lower.inclusive and lower.version.compare(zero) == 0) and start is not None:
            events.append(start)
            if lower.inclusive:
                events.append(RangeEvent(fixed=_text(lower.version)))
            else:
                events.append(RangeEvent(last_affected=_text(lower.version)))
        upper = interval.upper
        if upper is None:
            start = None
        elif upper.inclusive:
            start = RangeEvent(introduced=_text(smallest_above(upper.version)))
        else:
            start = RangeEvent(introduced=_text(upper.version))
    if start is not None:
        events.append(start)
    return tuple(events)


@dataclass(frozen=True, slots=True)
class RustsecSkip:
    """An advisory file deliberately not imported, with the reason."""

    path: str
    reason: str


def _strs(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CorruptInputError(f"expected a list of strings, got {value!r}")


def _split_markdown(body: str) -> tuple[str, str]:
    lines = body.strip().splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0][2:].strip(), "\n".join(lines[1:]).strip()
    return "", body.strip()


def parse_rustsec(text: str, name: str, *, source: str = "") -> Advisory:
    """Convert one RustSec advisory (Markdown with a TOML block, or a legacy ``.toml`` file).

    Raises ``CorruptInputError`` naming ``name`` for a missing front matter,
    invalid TOML, missing ``id``/``package`` or an unreadable requirement.
    """
    if name.endswith(".toml"):
        front, body = text, ""
    else:
        m = _FRONT_MATTER.match(text)
        if not m:
            raise CorruptInputError(f"{name}: no ```toml front matter")
        front, body = m.group(1), text[m.end() :]
    try:
        doc = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        raise CorruptInputError(f"{name}: invalid TOML front matter: {exc}") from None
    try:
        return _convert(doc, body, source)
    except (RequirementError, CorruptInputError, TypeError, ValueError) as exc:
        raise CorruptInputError(f"{name}: {exc}") from None


def _convert(doc: Mapping[str, Any], body: str, source: str) -> Advisory:
    adv = doc.get("advisory")
    if not isinstance(adv, Mapping):
        raise CorruptInputError("no [advisory] table")
    ident, package = adv.get("id"), adv.get("package")
    if not isinstance(ident, str) or not ident or not isinstance(package, str) or not package:
        raise CorruptInputError("[advisory] needs string id and package")
    versions = doc.get("versions") if isinstance(doc.get("versions"), Mapping) else {}
    assert isinstance(versions, Mapping)
    patched = _strs(versions.get("patched", adv.get("patched_versions")))
    unaffected = _strs(versions.get("unaffected", adv.get("unaffected_versions")))
    events = affected_events(patched, unaffected)
    specific: list[tuple[str, str]] = []
    affected_table = doc.get("affected")
    if isinstance(affected_table, Mapping):
        for key in ("functions", "os", "arch"):
            if affected_table.get(key):
                specific.append((key, json.dumps(affected_table[key], sort_keys=True, separators=(",", ":"))))
    severity: tuple[Severity, ...] = ()
    cvss = adv.get("cvss")
    if isinstance(cvss, str) and cvss:
        severity = (Severity("CVSS_V4" if cvss.startswith("CVSS:4") else "CVSS_V3", cvss),)
    date = str(adv.get("date", ""))
    stamp = f"{date}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else date
    withdrawn = str(adv.get("withdrawn", ""))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", withdrawn):
        withdrawn = f"{withdrawn}T00:00:00Z"
    references = [u for u in [*_strs(adv.get("url")), *_strs(adv.get("references"))] if u]
    references.append(f"https://rustsec.org/advisories/{ident}.html")
    extra: list[tuple[str, str]] = []
    if adv.get("informational"):
        extra.append(("informational", str(adv["informational"])))
    if adv.get("categories"):
        extra.append(("categories", json.dumps(_strs(adv.get("categories")), separators=(",", ":"))))
    summary, details = _split_markdown(body)
    return Advisory(
        id=ident,
        modified=stamp,
        published=stamp,
        withdrawn=withdrawn,
        aliases=tuple(_strs(adv.get("aliases"))),
        related=tuple(_strs(adv.get("related"))),
        summary=summary or str(adv.get("title", "")),
        details=details or str(adv.get("description", "")),
        severity=severity,
        affected=(
            Affected(
                ecosystem=ECOSYSTEM,
                name=package,
                ranges=(VersionRange(RangeType.SEMVER, events),),
                purl=f"pkg:cargo/{package}",
                ecosystem_specific=tuple(specific),
            ),
        ),
        references=tuple(dict.fromkeys(references)),
        source=source,
        extra=tuple(extra),
    )


def iter_rustsec_dir(
    root: Path, warnings: list[str], *, source: str = "", limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Advisory]:
    """Every crates.io advisory of an advisory-db checkout (``crates/<name>/RUSTSEC-*.md``).

    Toolchain advisories (``rust/``) are skipped with one warning giving their number.
    """
    toolchain = 0
    for path, size in walk_files(root, (".md", ".toml"), limits):
        if not _ADVISORY_FILE.match(path.name):
            continue  # README.md, CONTRIBUTING.md...
        parts = path.relative_to(root).parts
        if "rust" in parts[:-2] and "crates" not in parts:
            toolchain += 1
            continue
        if size > limits.max_member_bytes:
            warnings.append(f"{path}: skipped, {size} bytes is above the {limits.max_member_bytes}-byte limit")
            continue
        try:
            yield parse_rustsec(path.read_text(encoding="utf-8", errors="replace"), str(path), source=source)
        except CorruptInputError as exc:
            warnings.append(str(exc))
    if toolchain:
        warnings.append(f"{root}: {toolchain} Rust toolchain advisories (rust/...) skipped: not crates.io packages")
