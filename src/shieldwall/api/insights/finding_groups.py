"""Findings across assets with one row per (asset, advisory or rule, package version), its file locations listed.

The same vulnerable jar copied to three directories is three stored findings
(each has its own lifecycle and can get its own exception); a reader wants one
row with three paths. Same filters as the findings list (``api.queries.FindingFilter``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from shieldwall.api.insights import facts
from shieldwall.api.insights.asset_page import PAGE, GroupPage, group_of
from shieldwall.api.queries import FindingFilter, _apply_filter
from shieldwall.store import Store
from shieldwall.store.schema import Asset, Environment, StoredFinding

KEYS = (
    StoredFinding.asset_id,
    StoredFinding.kind,
    StoredFinding.rule_id,
    StoredFinding.package_name,
    StoredFinding.installed_version,
)


def _filtered(stmt: Any, filt: FindingFilter) -> Any:
    joined = (
        stmt.select_from(StoredFinding)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
    )
    return _apply_filter(joined, filt)


def grouped_findings(store: Store, filt: FindingFilter, *, page: int = 1, per_page: int = PAGE) -> GroupPage:
    """One page of groups, most severe first, with the number of groups matching ``filt``."""
    per_page = max(1, min(per_page, 500))
    rank = func.max(facts.severity_rank())
    grouped = _filtered(
        select(
            *KEYS,
            rank.label("rank"),
            func.count().label("n"),
            func.min(StoredFinding.id).label("first_id"),
            func.min(StoredFinding.title).label("title"),
            func.max(StoredFinding.fixed_version).label("fixed"),
            func.max(StoredFinding.status).label("status"),
        ),
        filt,
    ).group_by(*KEYS)
    with store.session() as session:
        total = int(session.scalar(select(func.count()).select_from(grouped.subquery())) or 0)
        pages = max(1, -(-total // per_page))
        page = max(1, min(page, pages))
        rows = session.execute(
            grouped.order_by(rank.desc(), StoredFinding.rule_id, StoredFinding.asset_id, func.min(StoredFinding.id))
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        found: dict[tuple[int, str, str, str, str], list[tuple[int, str]]] = {}
        first_ids = [int(r.first_id) for r in rows]
        if rows:
            assets = sorted({int(r.asset_id) for r in rows})
            rules = sorted({r.rule_id for r in rows})
            for asset_id, kind, rule, package, version, fid, path in session.execute(
                _filtered(select(*KEYS, StoredFinding.id, StoredFinding.path), filt)
                .where(StoredFinding.asset_id.in_(assets), StoredFinding.rule_id.in_(rules))
                .order_by(StoredFinding.id)
                .limit(per_page * 200)
            ).all():
                found.setdefault((int(asset_id), kind, rule, package, version), []).append((int(fid), str(path or "")))
    items = []
    for r, first_id in zip(rows, first_ids, strict=True):
        where = found.get((int(r.asset_id), r.kind, r.rule_id, r.package_name, r.installed_version), [])
        items.append(group_of(r, first_id, where, int(r.asset_id)))
    return GroupPage(total, page, pages, tuple(items))
