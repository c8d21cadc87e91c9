"""Match an inventory against advisories: one finding per vulnerability per package.

For each package the ecosystem map (``ecosystems.py``) says which
``(ecosystem, name)`` to look up; each distinct pair is looked up once per
scan and the parsed versions are cached by the schemes, so an image's
inventory matches in well under a second. Every ``affected[]`` entry naming
the package is evaluated with the ecosystem's own version scheme
(``ranges.py``).

Advisories about the same vulnerability from different feeds (a PYSEC and a
GHSA with the same CVE, a DSA and its CVE...) are merged when their IDs or
aliases overlap: the finding's ``rule_id`` is the CVE when there is one, and
``aliases`` lists every other ID. The evidence keeps one entry per advisory:
which advisory, which range matched, which matcher, what was searched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from shieldwall.match.ecosystems import OWNER_KEY, Query, plan_queries
from shieldwall.match.ranges import RangeVerdict, evaluate
from shieldwall.match.severity import best_cvss, vendor_severity
from shieldwall.match.versions import InvalidVersion, UnknownEcosystemError, ecosystem_base, scheme_for
from shieldwall.model import (
    Evidence,
    Finding,
    FindingKind,
    Location,
    OSInfo,
    Package,
    ScanResult,
    Severity,
    VulnDetails,
)
from shieldwall.vulndb.model import Advisory, Affected, EpssEntry, KevEntry, normalize_name

MAX_TITLE = 200
MAX_MESSAGE = 1000
MAX_REFERENCES = 20


class AdvisorySource(Protocol):
    """Where advisories come from: the SQLite ``VulnDB`` or an in-memory set (tests, fixtures)."""

    def lookup(self, ecosystem: str, name: str) -> Sequence[Advisory]:
        """Advisories with an ``affected[]`` entry for ``name`` in ``ecosystem`` (or its bare base)."""
        ...


@runtime_checkable
class PrioritySource(Protocol):
    """Exploitation data by CVE: CISA KEV and FIRST EPSS (``VulnDB`` provides both)."""

    def kev(self, cve_id: str) -> KevEntry | None:
        """The KEV entry of a CVE, or None."""
        ...

    def epss(self, cve_id: str) -> EpssEntry | None:
        """The EPSS score of a CVE, or None."""
        ...


@runtime_checkable
class AliasSource(Protocol):
    """Advisories by ID or alias (``VulnDB`` provides it): where a finding without a CVSS vector finds one."""

    def by_alias(self, alias: str) -> Sequence[Advisory]:
        """Every advisory whose id or aliases include ``alias``."""
        ...


class _AliasVectors:
    """CVSS vectors of the advisories sharing an ID with a finding (a distro record's CVE in GHSA/NVD), cached."""

    def __init__(self, inner: AliasSource) -> None:
        self._inner = inner
        self._cache: dict[str, list[tuple[str, str, str]]] = {}

    def vectors(self, ident: str) -> list[tuple[str, str, str]]:
        """(advisory id, vector type, vector) of every alias advisory of ``ident`` that has one."""
        hit = self._cache.get(ident)
        if hit is None:
            hit = [
                (advisory.id, sev.type, sev.score)
                for advisory in self._inner.by_alias(ident)
                for sev in (*advisory.severity, *(s for a in advisory.affected for s in a.severity))
                if sev.type.startswith("CVSS")
            ]
            self._cache[ident] = hit
        return hit


class InMemoryAdvisories:
    """An ``AdvisorySource`` over a list of advisories, indexed like the database (for tests and fixtures)."""

    def __init__(
        self,
        advisories: Iterable[Advisory],
        kev: Iterable[KevEntry] = (),
        epss: Iterable[EpssEntry] = (),
    ) -> None:
        self._index: dict[tuple[str, str], list[Advisory]] = defaultdict(list)
        for advisory in advisories:
            if advisory.withdrawn:
                continue
            keys = {(a.ecosystem, normalize_name(a.ecosystem, a.name)) for a in advisory.affected}
            for key in keys:
                self._index[key].append(advisory)
        self._kev = {e.cve_id: e for e in kev}
        self._epss = {e.cve_id: e for e in epss}

    def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
        """Advisories for ``name`` in ``ecosystem`` and in its bare base ecosystem, one per ID."""
        found: dict[str, Advisory] = {}
        base = ecosystem_base(ecosystem)
        for eco in dict.fromkeys((ecosystem, base)):
            for advisory in self._index.get((eco, normalize_name(eco, name)), ()):
                found.setdefault(advisory.id, advisory)
        return [found[k] for k in sorted(found)]

    def by_alias(self, alias: str) -> list[Advisory]:
        """Every advisory whose id or aliases include ``alias``."""
        return sorted(
            {a.id: a for advs in self._index.values() for a in advs if alias == a.id or alias in a.aliases}.values(),
            key=lambda a: a.id,
        )

    def kev(self, cve_id: str) -> KevEntry | None:
        """The KEV entry of a CVE, or None."""
        return self._kev.get(cve_id)

    def epss(self, cve_id: str) -> EpssEntry | None:
        """The EPSS score of a CVE, or None."""
        return self._epss.get(cve_id)


@dataclass(frozen=True, slots=True)
class Hit:
    """One advisory that affects one package, with the lookup and the verdict that found it."""

    advisory: Advisory
    affected: Affected
    verdict: RangeVerdict
    query: Query


@dataclass(slots=True)
class MatchReport:
    """Findings plus what could not be checked, counted (never silent)."""

    findings: list[Finding] = field(default_factory=list)
    packages_checked: int = 0
    lookups: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    unparseable_installed: list[str] = field(default_factory=list)
    unparseable_advisory_versions: int = 0
    unknown_ecosystems: set[str] = field(default_factory=set)
    git_ranges_skipped: int = 0


def _entry_matches(affected: Affected, query: Query) -> bool:
    if affected.ecosystem not in (query.ecosystem, ecosystem_base(query.ecosystem)):
        return False
    eco = affected.ecosystem
    return normalize_name(eco, affected.name) == normalize_name(eco, query.name)


def _is_informational(advisory: Advisory) -> bool:
    # RustSec "unmaintained"/"unsound"/"notice" advisories are not vulnerabilities.
    return any(key == "informational" and value for key, value in advisory.extra)


class _Lookups:
    """One lookup per distinct ``(ecosystem, normalised name)`` for the whole inventory."""

    def __init__(self, source: AdvisorySource) -> None:
        self._source = source
        self._cache: dict[tuple[str, str], Sequence[Advisory]] = {}

    def get(self, ecosystem: str, name: str) -> Sequence[Advisory]:
        """The source's advisories for the pair, looked up on first use only."""
        key = (ecosystem, normalize_name(ecosystem, name))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._source.lookup(ecosystem, name)
            self._cache[key] = hit
        return hit

    @property
    def count(self) -> int:
        """Distinct lookups made so far."""
        return len(self._cache)


def package_hits(package: Package, os: OSInfo | None, lookups: _Lookups, report: MatchReport) -> list[Hit]:
    """Every (advisory, affected entry) that covers the installed version of ``package``."""
    plan = plan_queries(package, os)
    if not plan.queries:
        report.skipped[plan.skipped] = report.skipped.get(plan.skipped, 0) + 1
        return []
    report.packages_checked += 1
    hits: list[Hit] = []
    # An entry reached by two queries (Ubuntu:22.04:LTS and the bare Ubuntu rows both lookups return) counts
    # once; every entry of an advisory counts (GHSA writes one entry per vulnerable range of one package).
    seen: set[tuple[str, int]] = set()
    for query in plan.queries:
        try:
            scheme = scheme_for(query.ecosystem)
        except UnknownEcosystemError:
            report.unknown_ecosystems.add(query.ecosystem)
            continue
        for advisory in lookups.get(query.ecosystem, query.name):
            if advisory.withdrawn or _is_informational(advisory):
                continue
            for index, affected in enumerate(advisory.affected):
                key = (advisory.id, index)
                if key in seen or not _entry_matches(affected, query):
                    continue
                seen.add(key)
                try:
                    verdict = evaluate(affected, query.version, scheme)
                except InvalidVersion:
                    # A warning, never a silent pass; the other entries (explicit version lists) still count.
                    warning = f"{package.name} {query.version} ({query.ecosystem})"
                    if warning not in report.unparseable_installed:
                        report.unparseable_installed.append(warning)
                    continue
                report.unparseable_advisory_versions += len(verdict.invalid)
                report.git_ranges_skipped += verdict.git_ranges_skipped
                if verdict.affected:
                    hits.append(Hit(advisory, affected, verdict, query))
    return hits


def group_hits(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Group hits about the same vulnerability: hits whose IDs or aliases overlap (transitively)."""
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, hit in enumerate(hits):
        for ident in (hit.advisory.id, *hit.advisory.aliases):
            j = owner.setdefault(ident, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[Hit]] = defaultdict(list)
    for i, hit in enumerate(hits):
        groups[find(i)].append(hit)
    return [groups[k] for k in sorted(groups)]


def _primary_id(ids: Iterable[str], advisory_ids: Sequence[str]) -> str:
    all_ids = sorted(set(ids))
    cves = [i for i in all_ids if i.startswith("CVE-")]
    if cves:
        return cves[0]
    return sorted(advisory_ids)[0]


def _fixed(hits: Sequence[Hit]) -> str:
    """The version that fixes every advisory of the group that names a fix (the highest of them)."""
    best = ""
    best_parsed = None
    for hit in hits:
        if not hit.verdict.fixed:
            continue
        scheme = scheme_for(hit.query.ecosystem)
        parsed = scheme.parse(hit.verdict.fixed)
        if best_parsed is None or parsed > best_parsed:
            best, best_parsed = hit.verdict.fixed, parsed
    return best


def _vendor_rating(hits: Sequence[Hit]) -> str:
    for hit in hits:
        if hit.advisory.database_specific_severity:
            return hit.advisory.database_specific_severity
        for key, value in hit.affected.ecosystem_specific:
            if key in ("urgency", "severity", "priority") and value:
                return value.strip('"')
        for sev in (*hit.affected.severity, *hit.advisory.severity):
            if not sev.type.startswith("CVSS"):
                return sev.score
    return ""


def _location(package: Package) -> Location | None:
    if not package.locations:
        return None
    first = package.locations[0]
    if first.layer is None and package.introduced_by is not None:
        return first.with_layer(package.introduced_by)
    return first


def _title(primary: Advisory, hits: Sequence[Hit], rule_id: str) -> str:
    for advisory in (primary, *(h.advisory for h in hits)):
        if advisory.summary:
            return advisory.summary[:MAX_TITLE]
    for advisory in (primary, *(h.advisory for h in hits)):
        if advisory.details:
            return advisory.details.strip().splitlines()[0][:MAX_TITLE]
    return rule_id


def _evidence(hit: Hit, package: Package, severity_from: str = "") -> Evidence:
    details = [
        ("advisory", hit.advisory.id),
        ("ecosystem", hit.affected.ecosystem),
        ("package", hit.affected.name),
        ("range", hit.verdict.matched_by),
        ("fixed", hit.verdict.fixed or "none"),
    ]
    if hit.verdict.git_ranges_skipped:
        details.append(("git_ranges_skipped", str(hit.verdict.git_ranges_skipped)))
    if severity_from:
        details.append(("severity_from", severity_from))  # the CVSS vector came from this alias advisory
    confidence = 0.9 if hit.query.matcher in ("dpkg-matcher", "apk-matcher") else 1.0
    return Evidence(
        detector=hit.query.matcher,
        searched=hit.query.describe(),
        found=f"{hit.advisory.id}: {hit.affected.name} {hit.verdict.matched_by}",
        source=hit.advisory.source,
        confidence=confidence,
        details=tuple(details),
    )


def build_finding(
    package: Package, hits: Sequence[Hit], priorities: PrioritySource | None, aliases: _AliasVectors | None = None
) -> Finding:
    """One vulnerability finding for ``package`` from the hits of one vulnerability.

    Severity: the best CVSS vector of the hits; else the best vector of another advisory in the database
    sharing one of the IDs (most distro CVE records have none of their own); else the vendor's rating
    (Debian urgency, Ubuntu priority...); UNKNOWN only when nothing knows.
    """
    ids = {i for h in hits for i in (h.advisory.id, *h.advisory.aliases)}
    advisory_ids = [h.advisory.id for h in hits]
    rule_id = _primary_id(ids, advisory_ids)
    primary = next((h.advisory for h in hits if h.advisory.id == rule_id), hits[0].advisory)
    fixed = _fixed(hits)
    vectors = [(s.type, s.score) for h in hits for s in (*h.affected.severity, *h.advisory.severity)]
    cvss = best_cvss(vectors)
    severity_from = ""
    if cvss is None and aliases is not None:
        hit_ids = {h.advisory.id for h in hits}
        borrowed = [v for i in sorted(ids) for v in aliases.vectors(i) if v[0] not in hit_ids]
        cvss = best_cvss((kind, vector) for _, kind, vector in borrowed)
        if cvss is not None:
            severity_from = next((a for a, _, vector in borrowed if vector == cvss.vector), borrowed[0][0])
    vendor = _vendor_rating(hits)
    severity = cvss.severity if cvss is not None else vendor_severity(vendor)
    if cvss is not None and severity is Severity.UNKNOWN and vendor:
        severity = vendor_severity(vendor)
    kev = epss = None
    if priorities is not None:
        for cve in sorted(i for i in ids if i.startswith("CVE-")):
            kev = kev or priorities.kev(cve)
            epss = epss or priorities.epss(cve)
    published = min((h.advisory.published for h in hits if h.advisory.published), default="")
    modified = max((h.advisory.modified for h in hits if h.advisory.modified), default="")
    references = list(dict.fromkeys(r for h in hits for r in h.advisory.references))[:MAX_REFERENCES]
    installed = package.version
    source_note = ""
    if hits[0].query.name != package.name:
        source_note = f" (source package {hits[0].query.name} {hits[0].query.version})"
    fix = f"upgrade {package.name}{source_note} to {fixed}" if fixed else "no fix available"
    message = (primary.details or primary.summary).strip()[:MAX_MESSAGE]
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule_id=rule_id,
        title=_title(primary, hits, rule_id),
        severity=severity,
        location=_location(package),
        package_id=package.id,
        message=message,
        fix=fix,
        aliases=tuple(sorted(ids - {rule_id})),
        references=tuple(references),
        evidence=tuple(_evidence(h, package, severity_from) for h in sorted(hits, key=lambda h: h.advisory.id)),
        fingerprint_material=f"{rule_id}\x00{package.purl}",
        vuln=VulnDetails(
            installed_version=installed,
            fixed_version=fixed,
            cvss_vector=cvss.vector if cvss else "",
            cvss_score=cvss.score if cvss else None,
            cvss_version=cvss.version if cvss else "",
            vendor_severity=vendor,
            kev=kev is not None,
            kev_date_added=kev.date_added if kev else "",
            epss_score=epss.epss if epss else None,
            epss_percentile=epss.percentile if epss else None,
            published=published,
            modified=modified,
        ),
    )


class _CachedPriorities:
    """KEV/EPSS answers cached per CVE for one scan (binaries of one source share their CVEs)."""

    def __init__(self, inner: PrioritySource) -> None:
        self._inner = inner
        self._kev: dict[str, KevEntry | None] = {}
        self._epss: dict[str, EpssEntry | None] = {}

    def kev(self, cve_id: str) -> KevEntry | None:
        """The KEV entry of a CVE, asked once."""
        if cve_id not in self._kev:
            self._kev[cve_id] = self._inner.kev(cve_id)
        return self._kev[cve_id]

    def epss(self, cve_id: str) -> EpssEntry | None:
        """The EPSS score of a CVE, asked once."""
        if cve_id not in self._epss:
            self._epss[cve_id] = self._inner.epss(cve_id)
        return self._epss[cve_id]


def match_packages(
    packages: Iterable[Package],
    os: OSInfo | None,
    source: AdvisorySource,
    priorities: PrioritySource | None = None,
) -> MatchReport:
    """Match packages against ``source``; the report counts what could not be checked."""
    if priorities is None and isinstance(source, PrioritySource):
        priorities = source
    if priorities is not None:
        priorities = _CachedPriorities(priorities)
    report = MatchReport()
    lookups = _Lookups(source)
    aliases = _AliasVectors(source) if isinstance(source, AliasSource) else None
    packages = list(packages)
    contents = _owned_contents(packages)
    for package in packages:
        hits = package_hits(package, os, lookups, report)
        owned = contents.get(f"{package.type}:{package.name}@{package.version}", ())
        for group in group_hits(hits):
            finding = build_finding(package, group, priorities, aliases)
            if owned:
                finding = replace(finding, evidence=(*finding.evidence, _owned_evidence(package, owned)))
            report.findings.append(finding)
    report.lookups = lookups.count
    return report


def _owned_contents(packages: Sequence[Package]) -> dict[str, list[Package]]:
    """Language packages by the distro package that installed them (the ``os-owner`` mark)."""
    out: dict[str, list[Package]] = {}
    for package in packages:
        owner = next((value for key, value in package.metadata if key == OWNER_KEY), "")
        if owner:
            out.setdefault(owner, []).append(package)
    return out


def _owned_evidence(package: Package, owned: Sequence[Package]) -> Evidence:
    """Says that this distro package's advisory also speaks for the language packages it installed."""
    names = ", ".join(
        f"{p.type} {p.name} {p.version}" + (f" at {p.locations[0].path}" if p.locations else "") for p in owned
    )
    return Evidence(
        detector="os-owned-files",
        searched=f"language packages installed by {package.type} {package.name} {package.version}",
        found=names,
        details=(
            ("installs", names),
            (
                "explanation",
                "these are matched through this distro package (its advisories carry the distro's backported "
                "fixes), not through the upstream ecosystem's ranges",
            ),
        ),
    )


def match_inventory(result: ScanResult, source: AdvisorySource) -> list[Finding]:
    """Vulnerability findings for every package of a scan result."""
    return match_packages(result.packages, result.os, source).findings
