""" "What do I fix first?": open vulnerability findings grouped by advisory, one row per CVE.

Each row counts the affected assets and findings and carries what ranks it:
the worst severity, the highest CVSS and EPSS the findings were matched
with, whether the vulnerability is known exploited (KEV), the versions that
fix it and the image layers (Dockerfile steps) that introduced it. Filters
and the sort order are plain values (the dashboard keeps them in the URL);
pages are numbered and computed by the database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import case, distinct, func, select

from shieldwall.api.insights import facts
from shieldwall.api.queries import ACTIVE, SEVERITY_ORDER, _like
from shieldwall.model import FindingKind, Severity
from shieldwall.store import Store
from shieldwall.store.schema import Asset, Environment, StoredFinding

PAGE = 50
MAX_DETAILS = 5
RANK_NAME = {s.rank: str(s) for s in Severity}


class VulnSort(StrEnum):
    """Orders of the grouped list (ties broken by advisory ID)."""

    PRIORITY = "priority"  # KEV first, then severity, EPSS, affected assets
    SEVERITY = "severity"
    ASSETS = "assets"
    CVSS = "cvss"
    EPSS = "epss"
    ID = "id"


@dataclass(frozen=True, slots=True)
class VulnFilter:
    """Which findings to group; empty or None fields do not filter."""

    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ACTIVE
    kev: bool | None = None
    fixable: bool | None = None
    epss_min: float | None = None
    environment: str = ""
    asset_kind: str = ""
    asset_id: int | None = None
    q: str = ""


@dataclass(frozen=True, slots=True)
class PackageFix:
    """A package an advisory affects and the version that fixes it there."""

    package: str
    fixed_version: str
    findings: int


@dataclass(frozen=True, slots=True)
class LayerCount:
    """A layer (Dockerfile step) that introduced findings of the advisory."""

    index: int | None
    step: str
    findings: int


@dataclass(frozen=True, slots=True)
class VulnRow:
    """One advisory with its affected assets counted."""

    rule_id: str
    title: str
    severity: str
    assets: int
    findings: int
    fixable: int
    cvss: float | None
    epss: float | None
    kev: bool
    packages: tuple[PackageFix, ...] = ()
    layers: tuple[LayerCount, ...] = ()
    fixed_versions: tuple[str, ...] = ()  # distinct fixing versions of the packages listed


@dataclass(frozen=True, slots=True)
class VulnPage:
    """One page of advisories and the totals of the whole filtered set."""

    total_vulnerabilities: int
    total_findings: int
    total_assets: int
    page: int
    pages: int
    sort: str
    items: tuple[VulnRow, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def _where(stmt: Any, filt: VulnFilter, dialect: str) -> Any:
    stmt = stmt.where(StoredFinding.kind == str(FindingKind.VULNERABILITY))
    if filt.statuses:
        stmt = stmt.where(StoredFinding.status.in_(list(filt.statuses)))
    if filt.severities:
        stmt = stmt.where(StoredFinding.severity.in_(list(filt.severities)))
    if filt.fixable is not None:
        stmt = stmt.where(facts.fixable() if filt.fixable else StoredFinding.fixed_version == "")
    if filt.environment:
        stmt = stmt.where(Environment.name == filt.environment)
    if filt.asset_kind:
        stmt = stmt.where(Asset.kind == filt.asset_kind)
    if filt.asset_id is not None:
        stmt = stmt.where(StoredFinding.asset_id == filt.asset_id)
    if filt.q.strip():
        pattern = _like(filt.q.strip()[:200])
        stmt = stmt.where(
            func.lower(StoredFinding.rule_id).like(pattern, escape="\\")
            | func.lower(StoredFinding.package_name).like(pattern, escape="\\")
            | func.lower(StoredFinding.title).like(pattern, escape="\\")
        )
    return stmt


def _joined(stmt: Any) -> Any:
    return (
        stmt.select_from(StoredFinding)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
    )


def _order(sort: VulnSort, row: Any) -> list[Any]:
    epss = func.coalesce(row.epss, -1.0)
    cvss = func.coalesce(row.cvss, -1.0)
    match sort:
        case VulnSort.PRIORITY:
            keys = [row.kev.desc(), row.rank.desc(), epss.desc(), row.assets.desc()]
        case VulnSort.SEVERITY:
            keys = [row.rank.desc(), cvss.desc(), row.assets.desc()]
        case VulnSort.ASSETS:
            keys = [row.assets.desc(), row.rank.desc()]
        case VulnSort.CVSS:
            keys = [cvss.desc(), row.rank.desc()]
        case VulnSort.EPSS:
            keys = [epss.desc(), row.rank.desc()]
        case VulnSort.ID:
            keys = []
    return [*keys, row.rule_id.asc()]


def vulnerabilities(
    store: Store, filt: VulnFilter, *, sort: VulnSort = VulnSort.PRIORITY, page: int = 1, per_page: int = PAGE
) -> VulnPage:
    """One page of advisories (one row per rule ID) matching ``filt``, with the totals of the whole set.

    Severity, counts and fix state are aggregated over the matching findings;
    KEV, EPSS and CVSS are the advisory's (``facts.advisory_facts``), and the KEV
    and EPSS filters select advisories.
    """
    dialect = store.dialect
    per_page = max(1, min(per_page, 500))
    grouped = (
        _where(
            _joined(
                select(
                    StoredFinding.rule_id.label("rule_id"),
                    func.max(facts.severity_rank()).label("rank"),
                    func.count(distinct(StoredFinding.asset_id)).label("assets"),
                    func.count().label("findings"),
                    func.sum(case((facts.fixable(), 1), else_=0)).label("fixable"),
                    func.min(StoredFinding.title).label("title"),
                )
            ),
            filt,
            dialect,
        )
        .group_by(StoredFinding.rule_id)
        .subquery("grouped")
    )
    known = facts.advisory_facts(dialect, lambda stmt: _where(_joined(stmt), filt, dialect))
    rows_q = select(grouped, known.c.kev, known.c.epss, known.c.cvss).join(known, known.c.rule_id == grouped.c.rule_id)
    if filt.kev is not None:
        rows_q = rows_q.where(known.c.kev == (1 if filt.kev else 0))
    if filt.epss_min is not None:
        rows_q = rows_q.where(known.c.epss >= filt.epss_min)
    chosen = rows_q.subquery("chosen")
    with store.session() as session:
        n_vulns, n_findings = session.execute(select(func.count(), func.coalesce(func.sum(chosen.c.findings), 0))).one()
        assets_q = _where(_joined(select(func.count(distinct(StoredFinding.asset_id)))), filt, dialect)
        if filt.kev is not None or filt.epss_min is not None:
            assets_q = assets_q.where(StoredFinding.rule_id.in_(select(chosen.c.rule_id)))
        n_assets = session.scalar(assets_q)
        pages = max(1, -(-int(n_vulns or 0) // per_page))
        page = max(1, min(page, pages))
        rows = session.execute(
            select(chosen).order_by(*_order(sort, chosen.c)).limit(per_page).offset((page - 1) * per_page)
        ).all()
        rule_ids = [r.rule_id for r in rows]
        details = (
            session.execute(
                _where(
                    _joined(
                        select(
                            StoredFinding.rule_id,
                            StoredFinding.package_name,
                            StoredFinding.fixed_version,
                            facts.layer_index(dialect),
                            facts.layer_step(dialect),
                            func.count(),
                        )
                    ),
                    filt,
                    dialect,
                )
                .where(StoredFinding.rule_id.in_(rule_ids))
                .group_by(
                    StoredFinding.rule_id,
                    StoredFinding.package_name,
                    StoredFinding.fixed_version,
                    facts.layer_index(dialect),
                    facts.layer_step(dialect),
                )
            ).all()
            if rule_ids
            else []
        )
    packages: dict[str, dict[tuple[str, str], int]] = {}
    layers: dict[str, dict[tuple[int | None, str], int]] = {}
    for rule_id, package, fixed, index, step, n in details:
        pk = packages.setdefault(rule_id, {})
        pk[(package, fixed)] = pk.get((package, fixed), 0) + int(n)
        ly = layers.setdefault(rule_id, {})
        key = (int(index) if index is not None else None, str(step or ""))
        ly[key] = ly.get(key, 0) + int(n)
    items = tuple(
        VulnRow(
            rule_id=r.rule_id,
            title=r.title or "",
            severity=RANK_NAME.get(int(r.rank or 0), SEVERITY_ORDER[-1]),
            assets=int(r.assets),
            findings=int(r.findings),
            fixable=int(r.fixable or 0),
            cvss=float(r.cvss) if r.cvss is not None else None,
            epss=float(r.epss) if r.epss is not None else None,
            kev=bool(r.kev),
            packages=tuple(
                PackageFix(p, f, n)
                for (p, f), n in sorted(packages.get(r.rule_id, {}).items(), key=lambda x: (-x[1], x[0]))[:MAX_DETAILS]
            ),
            layers=tuple(
                LayerCount(i, s, n)
                for (i, s), n in sorted(
                    layers.get(r.rule_id, {}).items(), key=lambda x: (-x[1], x[0][0] if x[0][0] is not None else -1)
                )[:MAX_DETAILS]
            ),
            fixed_versions=tuple(dict.fromkeys(f for (_, f), _n in sorted(packages.get(r.rule_id, {}).items()) if f))[
                :MAX_DETAILS
            ],
        )
        for r in rows
    )
    return VulnPage(int(n_vulns or 0), int(n_findings or 0), int(n_assets or 0), page, pages, str(sort), items)
