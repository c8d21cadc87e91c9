""" "Where are we exposed?": open findings across environments and asset kinds, with what makes them urgent.

Open means open or reopened (what ``GET /api/v1/overview`` counts). For each
(environment, asset kind) the database returns one row per (severity, finding
kind, advisory) with the counts of findings, fixable and new ones; whether an
advisory is known exploited (KEV) or has a high EPSS is read once per advisory
(``facts.advisory_facts``), not once per finding. Assets
whose last scan left packages **not evaluated** (a scan run with
``--allow-incomplete-db``) are counted apart: they are never shown as clean.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select

from shieldwall.api.insights import facts
from shieldwall.api.insights.names import names_by_id
from shieldwall.api.queries import ACTIVE, SEVERITY_ORDER, TrendPoint, trend
from shieldwall.model import FindingKind
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Asset, Environment, Scan, StoredFinding

NO_ENVIRONMENT = "(none)"
TREND_DAYS = (30, 90)
MAX_NOT_EVALUATED_LISTED = 100


@dataclass(slots=True)
class Slice:
    """Counts for one environment and asset kind (or a total)."""

    environment: str
    asset_kind: str
    assets: int = 0
    open_total: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_ORDER, 0))
    by_kind: dict[str, int] = field(default_factory=dict)
    new: int = 0
    fixable: int = 0
    kev: int = 0
    high_epss: int = 0
    not_evaluated_assets: int = 0

    def add(self, other: Slice) -> None:
        """Add another slice's counts into this one."""
        self.assets += other.assets
        self.open_total += other.open_total
        for key, n in other.by_severity.items():
            self.by_severity[key] = self.by_severity.get(key, 0) + n
        for key, n in other.by_kind.items():
            self.by_kind[key] = self.by_kind.get(key, 0) + n
        self.new += other.new
        self.fixable += other.fixable
        self.kev += other.kev
        self.high_epss += other.high_epss
        self.not_evaluated_assets += other.not_evaluated_assets


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    """An asset whose last scan left packages not evaluated for vulnerabilities."""

    asset_id: int
    label: str
    kind: str
    environment: str
    packages: int
    reasons: tuple[str, ...]
    scan_id: int


@dataclass(frozen=True, slots=True)
class Exposure:
    """The numbers of the exposure page and of ``GET /api/v1/exposure``."""

    generated_at: str
    since: str
    epss_threshold: float
    total: Slice
    slices: tuple[Slice, ...]
    not_evaluated: tuple[NotEvaluated, ...]
    not_evaluated_assets: int
    not_evaluated_packages: int
    trend_days: int
    trend: tuple[TrendPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["trend"] = [{"day": p.day, "counts": p.counts, "total": p.total} for p in self.trend]
        return data


def _not_evaluated(store: Store) -> tuple[list[tuple[int, str, str, int, tuple[str, ...], int]], int]:
    """(asset id, kind, environment, packages, reasons, scan id) of active assets whose last scan has a gap."""
    with store.session() as session:
        rows = session.execute(
            select(Asset.id, Asset.kind, Environment.name, Scan.id, Scan.summary)
            .join(Scan, Scan.id == Asset.last_scan_id)
            .outerjoin(Environment, Environment.id == Asset.environment_id)
            .where(Asset.active.is_(True), Scan.summary.like('%"not_evaluated"%'))
            .order_by(Asset.id)
        ).all()
    out = []
    packages = 0
    for asset_id, kind, env, scan_id, summary in rows:
        try:
            gap = json.loads(summary or "{}").get("not_evaluated") or {}
        except (ValueError, AttributeError):
            gap = {"packages": 0, "reasons": ["unreadable scan summary"]}
        count = int(gap.get("packages", 0) or 0)
        reasons = tuple(str(r)[:300] for r in gap.get("reasons") or ())
        if count or reasons:
            packages += count
            out.append((int(asset_id), str(kind), env or NO_ENVIRONMENT, count, reasons, int(scan_id)))
    return out, packages


def exposure(
    store: Store,
    *,
    epss_threshold: float = facts.DEFAULT_HIGH_EPSS,
    days: int = 30,
    now: dt.datetime | None = None,
) -> Exposure:
    """Open findings by environment and asset kind; new (first seen in the last 24 h), fixable, KEV, high EPSS."""
    now = now or utcnow()
    since = now - dt.timedelta(days=1)
    dialect = store.dialect
    is_vuln = StoredFinding.kind == str(FindingKind.VULNERABILITY)
    rule = case((is_vuln, StoredFinding.rule_id), else_=literal_column("''"))
    query = (
        select(
            Environment.name,
            Asset.kind,
            StoredFinding.severity,
            StoredFinding.kind,
            rule,
            func.count(),
            func.sum(case((and_(is_vuln, facts.fixable()), 1), else_=0)),
            func.sum(case((StoredFinding.first_seen >= since, 1), else_=0)),
        )
        .select_from(StoredFinding)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
        .where(StoredFinding.status.in_(ACTIVE))
        .group_by(Environment.name, Asset.kind, StoredFinding.severity, StoredFinding.kind, rule)
    )
    advisories = facts.advisory_facts(dialect, lambda stmt: stmt.where(StoredFinding.status.in_(ACTIVE), is_vuln))
    slices: dict[tuple[str, str], Slice] = {}

    def slice_of(env: str | None, kind: str) -> Slice:
        key = (env or NO_ENVIRONMENT, str(kind))
        return slices.setdefault(key, Slice(key[0], key[1]))

    with store.session() as session:
        known = {
            str(r.rule_id): (bool(r.kev), r.epss is not None and float(r.epss) >= epss_threshold)
            for r in session.execute(select(advisories)).all()
        }
        for env, asset_kind, severity, kind, rule_id, n, fix, new in session.execute(query).all():
            item = slice_of(env, asset_kind)
            kev, high = known.get(str(rule_id), (False, False)) if rule_id else (False, False)
            item.open_total += int(n)
            item.by_severity[str(severity)] = item.by_severity.get(str(severity), 0) + int(n)
            item.by_kind[str(kind)] = item.by_kind.get(str(kind), 0) + int(n)
            item.fixable += int(fix or 0)
            item.kev += int(n) if kev else 0
            item.high_epss += int(n) if high else 0
            item.new += int(new or 0)
        for env, asset_kind, n in session.execute(
            select(Environment.name, Asset.kind, func.count())
            .select_from(Asset)
            .outerjoin(Environment, Environment.id == Asset.environment_id)
            .where(Asset.active.is_(True))
            .group_by(Environment.name, Asset.kind)
        ).all():
            slice_of(env, asset_kind).assets += int(n)
    gaps, gap_packages = _not_evaluated(store)
    for _asset_id, kind, env, _count, _reasons, _scan in gaps:
        slice_of(env, kind).not_evaluated_assets += 1
    with store.session() as session:
        names = names_by_id(session, [g[0] for g in gaps[:MAX_NOT_EVALUATED_LISTED]])
    listed = tuple(
        NotEvaluated(a, names[a].label if a in names else str(a), k, e, c, r, s)
        for a, k, e, c, r, s in gaps[:MAX_NOT_EVALUATED_LISTED]
    )
    total = Slice("all", "all")
    ordered = tuple(sorted(slices.values(), key=lambda s: (s.environment, s.asset_kind)))
    for item in ordered:
        total.add(item)
    total.by_kind = dict(sorted(total.by_kind.items()))
    days = days if days in TREND_DAYS else TREND_DAYS[0]
    return Exposure(
        generated_at=now.isoformat(timespec="seconds"),
        since=since.isoformat(timespec="seconds"),
        epss_threshold=epss_threshold,
        total=total,
        slices=ordered,
        not_evaluated=listed,
        not_evaluated_assets=len(gaps),
        not_evaluated_packages=gap_packages,
        trend_days=days,
        trend=trend(store, days, today=now.date()),
    )
