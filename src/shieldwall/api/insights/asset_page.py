"""One asset's page in bounded pieces: layer counts, a page of its inventory, a page of its findings grouped.

A real image holds thousands of packages and findings; nothing here returns
more than one page of them. Findings that differ only by file location (the
same advisory in the same package version found in several files) are one
group listing its locations. What the last scan left **not evaluated** is
read from that scan's summary, so the page can say so instead of looking clean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from shieldwall.api.insights import facts
from shieldwall.api.queries import ACTIVE, NotFoundError, _like
from shieldwall.model import Severity
from shieldwall.store import Store
from shieldwall.store.inventory import layers_from_json
from shieldwall.store.schema import Asset, Inventory, InventoryPackage, Scan, StoredFinding

PAGE = 50
MAX_LOCATIONS = 5
RANK_NAME = {s.rank: str(s) for s in Severity}


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """A layer with how many packages and current findings it introduced."""

    index: int
    digest: str
    created_by: str
    size: int
    packages: int
    findings: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Packages the last scan did not evaluate for vulnerabilities, and why."""

    scan_id: int | None
    packages: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackageRow:
    """One inventory package."""

    name: str
    version: str
    type: str
    ecosystem: str
    purl: str
    path: str
    layer_index: int | None
    licenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Findings of one asset that differ only by location: one advisory or rule in one package version."""

    kind: str
    rule_id: str
    title: str
    severity: str
    package: str
    installed_version: str
    fixed_version: str
    status: str
    count: int
    first_id: int
    locations: tuple[str, ...] = ()
    finding_ids: tuple[int, ...] = ()
    asset_id: int = 0


@dataclass(frozen=True, slots=True)
class PackagePage:
    """One page of an inventory and how many packages match."""

    total: int
    page: int
    pages: int
    items: tuple[PackageRow, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupPage:
    """One page of grouped findings and how many groups match."""

    total: int
    page: int
    pages: int
    items: tuple[FindingGroup, ...] = ()


def group_of(row: Any, first_id: int, found: list[tuple[int, str]], asset_id: int = 0) -> FindingGroup:
    """One grouped row with its locations (``found``: finding IDs and paths of the group, in ID order)."""
    locations = tuple(dict.fromkeys(p for _, p in found if p))
    return FindingGroup(
        kind=row.kind,
        rule_id=row.rule_id,
        title=row.title or "",
        severity=RANK_NAME.get(int(row.rank or 0), "UNKNOWN"),
        package=row.package_name,
        installed_version=row.installed_version,
        fixed_version=row.fixed or "",
        status=row.status,
        count=int(row.n),
        first_id=first_id,
        locations=locations[:MAX_LOCATIONS],
        finding_ids=tuple(i for i, _ in found[:MAX_LOCATIONS]),
        asset_id=asset_id,
    )


def _pages(total: int, page: int, per_page: int) -> tuple[int, int]:
    pages = max(1, -(-total // per_page))
    return pages, max(1, min(page, pages))


def _inventory(store: Store, asset_id: int) -> Inventory | None:
    with store.session() as session:
        if session.get(Asset, asset_id) is None:
            raise NotFoundError(f"no asset #{asset_id}")
        found = session.scalars(select(Inventory).where(Inventory.asset_id == asset_id)).first()
        if found is not None:
            session.expunge(found)
        return found


def layer_summaries(store: Store, asset_id: int) -> list[LayerSummary]:
    """Each recorded layer with its package and current-finding counts (plus one for unattributed ones)."""
    inventory = _inventory(store, asset_id)
    dialect = store.dialect
    layer = facts.layer_index(dialect)
    with store.session() as session:
        packages = {
            idx: int(n)
            for idx, n in session.execute(
                select(InventoryPackage.layer_index, func.count())
                .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
                .where(Inventory.asset_id == asset_id)
                .group_by(InventoryPackage.layer_index)
            ).all()
        }
        findings = {
            (int(idx) if idx is not None else None): int(n)
            for idx, n in session.execute(
                select(layer, func.count())
                .where(StoredFinding.asset_id == asset_id, StoredFinding.status.in_(ACTIVE))
                .group_by(layer)
            ).all()
        }
    layers = layers_from_json(inventory.layers if inventory else "")
    out = [
        LayerSummary(x.index, x.digest, x.created_by, x.size, packages.get(x.index, 0), findings.get(x.index, 0))
        for x in layers
    ]
    known = {x.index for x in layers}
    stray_p = sum(n for k, n in packages.items() if k not in known)
    stray_f = sum(n for k, n in findings.items() if k not in known)
    if stray_p or stray_f:
        out.append(LayerSummary(-1, "", "(not attributed to a layer)", 0, stray_p, stray_f))
    return out


def not_evaluated(store: Store, asset_id: int) -> Gap | None:
    """What the asset's last scan did not evaluate (None when it evaluated everything or has no scan)."""
    with store.session() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise NotFoundError(f"no asset #{asset_id}")
        scan = session.get(Scan, asset.last_scan_id) if asset.last_scan_id is not None else None
        if scan is None:
            return None
        try:
            gap = json.loads(scan.summary or "{}").get("not_evaluated") or {}
        except (ValueError, AttributeError):
            return Gap(scan.id, 0, ("the scan summary is unreadable: evaluation unknown",))
    count = int(gap.get("packages", 0) or 0)
    reasons = tuple(str(r)[:300] for r in gap.get("reasons") or ())
    return Gap(scan.id, count, reasons) if count or reasons else None


def packages_page(
    store: Store, asset_id: int, *, q: str = "", layer: int | None = None, page: int = 1, per_page: int = PAGE
) -> PackagePage:
    """One page of the asset's inventory by layer then name; ``q`` filters names, ``layer`` one layer."""
    _inventory(store, asset_id)
    per_page = max(1, min(per_page, 500))
    base = (
        select(InventoryPackage)
        .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
        .where(Inventory.asset_id == asset_id)
    )
    if q.strip():
        base = base.where(func.lower(InventoryPackage.name).like(_like(q.strip()[:200]), escape="\\"))
    if layer is not None:
        column = InventoryPackage.layer_index
        base = base.where(column.is_(None) if layer < 0 else column == layer)
    with store.session() as session:
        total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
        pages, page = _pages(total, page, per_page)
        rows = session.scalars(
            base.order_by(InventoryPackage.layer_index, InventoryPackage.name, InventoryPackage.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        items = tuple(
            PackageRow(
                r.name,
                r.version,
                r.type,
                r.ecosystem,
                r.purl,
                r.path,
                r.layer_index,
                tuple(json.loads(r.licenses)) if r.licenses else (),
            )
            for r in rows
        )
    return PackagePage(total, page, pages, items)


def findings_page(
    store: Store,
    asset_id: int,
    *,
    statuses: tuple[str, ...] = ACTIVE,
    layer: int | None = None,
    page: int = 1,
    per_page: int = PAGE,
) -> GroupPage:
    """One page of the asset's findings grouped by (kind, rule, package, version), most severe first."""
    _inventory(store, asset_id)
    per_page = max(1, min(per_page, 500))
    dialect = store.dialect
    keys = (StoredFinding.kind, StoredFinding.rule_id, StoredFinding.package_name, StoredFinding.installed_version)

    def where(stmt: Any) -> Any:
        stmt = stmt.where(StoredFinding.asset_id == asset_id)
        if statuses:
            stmt = stmt.where(StoredFinding.status.in_(list(statuses)))
        if layer is not None:
            index = facts.layer_index(dialect)
            stmt = stmt.where(index.is_(None) if layer < 0 else index == layer)
        return stmt

    rank = func.max(facts.severity_rank())
    grouped = where(
        select(
            *keys,
            rank.label("rank"),
            func.count().label("n"),
            func.min(StoredFinding.id).label("first_id"),
            func.min(StoredFinding.title).label("title"),
            func.max(StoredFinding.fixed_version).label("fixed"),
            func.max(StoredFinding.status).label("status"),
        )
    ).group_by(*keys)
    with store.session() as session:
        total = int(session.scalar(select(func.count()).select_from(grouped.subquery())) or 0)
        pages, page = _pages(total, page, per_page)
        rows = session.execute(
            grouped.order_by(rank.desc(), StoredFinding.rule_id, StoredFinding.package_name, func.min(StoredFinding.id))
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        rules = sorted({r.rule_id for r in rows})
        where_found: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
        if rules:
            for kind, rule, package, version, fid, path in session.execute(
                where(select(*keys, StoredFinding.id, StoredFinding.path))
                .where(StoredFinding.rule_id.in_(rules))
                .order_by(StoredFinding.id)
                .limit(per_page * 200)
            ).all():
                where_found.setdefault((kind, rule, package, version), []).append((int(fid), str(path or "")))
    items = []
    for r in rows:
        found = where_found.get((r.kind, r.rule_id, r.package_name, r.installed_version), [])
        items.append(group_of(r, int(r.first_id), found))
    return GroupPage(total, page, pages, tuple(items))
