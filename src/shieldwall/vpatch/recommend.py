"""The recommendation pass: open vulnerability findings x the rule catalog -> stored recommendations.

Run it on every inventory change and every advisory database update
(``on_inventory_change`` / ``on_database_update``): a finding that is fixed,
suppressed or gone loses its recommendations, and a rule assigned for it is
unassigned in the same transaction. With the ``ips.vpatch`` setting
``{"auto_assign": true}`` new recommendations are assigned at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from shieldwall.model.finding import FindingKind
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import FindingStatus, IpsRecommendation, StoredFinding
from shieldwall.vpatch.catalog import Catalog, default_catalog, is_cve

SETTING = "ips.vpatch"
ACTIVE = (FindingStatus.OPEN.value, FindingStatus.REOPENED.value)


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass changed."""

    findings: int
    created: int
    removed: int
    unassigned: int


def vpatch_settings(store: Store) -> dict[str, Any]:
    """``{"auto_assign": bool, "mode": "prevent"|"detect"}`` (defaults: no auto-assign, Prevent)."""
    raw = store.get_setting(SETTING) or {}
    mode = raw.get("mode") if raw.get("mode") in ("prevent", "detect") else "prevent"
    return {"auto_assign": bool(raw.get("auto_assign", False)), "mode": mode}


def finding_cves(row: StoredFinding) -> list[str]:
    """The CVE IDs a finding is known by: its rule ID and its aliases."""
    return cves_of(row.rule_id, row.data)


def cves_of(rule_id: str, document: str | None) -> list[str]:
    """The CVE IDs of a finding with this rule ID and stored JSON document (its ``data`` column)."""
    ids = [rule_id]
    try:
        data = json.loads(document) if document else {}
    except ValueError:
        data = {}
    aliases = data.get("aliases") if isinstance(data, dict) else None
    if isinstance(aliases, list):
        ids += [str(a) for a in aliases[:100]]
    return sorted({i.upper() for i in ids if is_cve(i)})


def recommendation_pass(
    store: Store, catalog: Catalog | None = None, asset_ids: Iterable[int] | None = None
) -> PassResult:
    """Bring stored recommendations in line with open findings (all assets, or those given)."""
    catalog = catalog or default_catalog()
    settings = vpatch_settings(store)
    assets = None if asset_ids is None else sorted(set(asset_ids))
    now = utcnow()
    with store.session() as session:
        q = select(StoredFinding).where(
            StoredFinding.kind == FindingKind.VULNERABILITY.value, StoredFinding.status.in_(ACTIVE)
        )
        rq = select(IpsRecommendation)
        if assets is not None:
            q = q.where(StoredFinding.asset_id.in_(assets))
            rq = rq.where(IpsRecommendation.asset_id.in_(assets))
        want: dict[tuple[int, int], tuple[StoredFinding, str, Any]] = {}
        findings = 0
        for row in session.scalars(q):
            findings += 1
            for cve in finding_cves(row):
                for ref in catalog.rules_for(cve):
                    want.setdefault((row.id, ref.sid), (row, cve, ref))
        removed = unassigned = created = 0
        existing: set[tuple[int, int]] = set()
        stale: list[int] = []
        for rec in session.scalars(rq):
            key = (rec.finding_id, rec.sid)
            if key in want:
                existing.add(key)
                continue
            stale.append(rec.id)
            removed += 1
            unassigned += int(rec.assigned)
        if stale:
            session.execute(delete(IpsRecommendation).where(IpsRecommendation.id.in_(stale)))
        for key, (row, cve, ref) in want.items():
            if key in existing:
                continue
            session.add(
                IpsRecommendation(
                    asset_id=row.asset_id,
                    finding_id=row.id,
                    cve=cve,
                    sid=ref.sid,
                    source=ref.source,
                    msg=ref.msg[:2000],
                    mode=settings["mode"],
                    assigned=settings["auto_assign"],
                    assigned_by="auto" if settings["auto_assign"] else "",
                    created_at=now,
                    updated_at=now,
                )
            )
            created += 1
    return PassResult(findings=findings, created=created, removed=removed, unassigned=unassigned)


def on_inventory_change(store: Store, asset_ids: Iterable[int]) -> PassResult:
    """Call after a scan or agent inventory of these assets was recorded (findings lifecycle applied)."""
    return recommendation_pass(store, asset_ids=asset_ids)


def on_database_update(store: Store) -> PassResult:
    """Call after a rematch over the advisory database (all assets)."""
    return recommendation_pass(store)
