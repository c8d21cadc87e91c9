"""Rematch: new threat data against what the store already knows — no pull, no layer walk.

When the advisory database changes, it records the (ecosystem, name) pairs
whose advisories were added, changed or removed. ``rematch`` looks those up
in the inventory index (``inventory_packages`` by base ecosystem and lookup
name), rebuilds just those ``Package`` values from their rows, runs the
matcher on them with the inventory's OS, and merges the result into each
asset's stored findings: new findings (alerted), changed ones, and
vulnerabilities that no longer apply (``not-applicable``). Its cost follows
the size of the change, not the size of the fleet.

Scope: inventories of active assets (a tag still points at them, or they
were scanned without one) and of golden images, which are always included
even after their tags moved on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shieldwall.alert.config import AlertSettings
from shieldwall.alert.queue import current_tags, queue_alerts
from shieldwall.match.matcher import AdvisorySource, match_packages
from shieldwall.model import FindingKind
from shieldwall.store import audit
from shieldwall.store.core import Store, utcnow
from shieldwall.store.inventory import changed_keys, layers_from_json, os_from_json, row_package
from shieldwall.store.records import LifecycleChange, active_exceptions, apply_lifecycle
from shieldwall.store.schema import Asset, FindingStatus, Inventory, InventoryPackage, StoredFinding

log = logging.getLogger(__name__)

NAME_BATCH = 500
INVENTORY_BATCH = 100
MAX_LISTED_ASSETS = 200


@dataclass(frozen=True, slots=True)
class AssetRematch:
    """What a rematch changed on one asset."""

    asset_id: int
    identifier: str
    golden: bool
    packages: int
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()
    alerts: int = 0


@dataclass(slots=True)
class RematchReport:
    """The outcome of one rematch: keys asked for, rows read, inventories matched, per-asset changes."""

    full: bool = False
    changed_keys: int = 0
    package_rows_read: int = 0
    inventories: int = 0
    assets: list[AssetRematch] = field(default_factory=list)
    alerts_queued: int = 0

    @property
    def new_findings(self) -> int:
        """New findings across every asset."""
        return sum(len(a.new) for a in self.assets)

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``--format json`` and the audit trail."""
        return {
            "full": self.full,
            "changed_keys": self.changed_keys,
            "package_rows_read": self.package_rows_read,
            "inventories": self.inventories,
            "alerts_queued": self.alerts_queued,
            "new": self.new_findings,
            "changed": sum(len(a.changed) for a in self.assets),
            "not_applicable": sum(len(a.not_applicable) for a in self.assets),
            "assets": [
                {
                    "asset_id": a.asset_id,
                    "identifier": a.identifier,
                    "golden": a.golden,
                    "packages": a.packages,
                    "new": list(a.new),
                    "changed": list(a.changed),
                    "not_applicable": list(a.not_applicable),
                    "alerts": a.alerts,
                }
                for a in self.assets
                if a.new or a.changed or a.not_applicable
            ][:MAX_LISTED_ASSETS],
        }


def _in_scope() -> Any:
    golden = or_(Asset.golden_flag.is_(True), and_(Asset.golden_flag.is_(None), Asset.golden_auto.is_(True)))
    return or_(Asset.active.is_(True), golden)


def candidate_rows(session: Session, keys: dict[str, set[str]]) -> list[InventoryPackage]:
    """Package rows of in-scope inventories whose lookup keys are among ``keys`` (two indexed lookups)."""
    found: dict[int, InventoryPackage] = {}
    for ecosystem, names in sorted(keys.items()):
        ordered = sorted(names)
        for start in range(0, len(ordered), NAME_BATCH):
            batch = ordered[start : start + NAME_BATCH]
            for column in (InventoryPackage.lookup_name, InventoryPackage.alt_lookup_name):
                query = (
                    select(InventoryPackage)
                    .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
                    .join(Asset, Asset.id == Inventory.asset_id)
                    .where(InventoryPackage.ecosystem == ecosystem, column.in_(batch), _in_scope())
                )
                if column is InventoryPackage.alt_lookup_name:
                    query = query.where(InventoryPackage.alt_lookup_name != "")
                for row in session.scalars(query):
                    found[row.id] = row
    return list(found.values())


def _all_rows(session: Session, inventory_ids: Sequence[int]) -> list[InventoryPackage]:
    return list(
        session.scalars(
            select(InventoryPackage).where(
                InventoryPackage.inventory_id.in_(list(inventory_ids)), InventoryPackage.ecosystem != ""
            )
        )
    )


def rematch(
    store: Store,
    source: AdvisorySource,
    changed: Iterable[tuple[str, str]] | None,
    *,
    alerts: AlertSettings | None = None,
    actor: str = "",
    reason: str = "advisory database changed",
) -> RematchReport:
    """Re-match the stored inventories that hold the ``changed`` (ecosystem, name) pairs (all when None)."""
    report = RematchReport(full=changed is None)
    keys = changed_keys(changed) if changed is not None else {}
    report.changed_keys = sum(len(v) for v in keys.values())
    with store.session() as session:
        if changed is None:
            inventory_ids = list(
                session.scalars(select(Inventory.id).join(Asset, Asset.id == Inventory.asset_id).where(_in_scope()))
            )
            rows_by_inventory: dict[int, list[InventoryPackage]] = defaultdict(list)
            for start in range(0, len(inventory_ids), INVENTORY_BATCH):
                for row in _all_rows(session, inventory_ids[start : start + INVENTORY_BATCH]):
                    rows_by_inventory[row.inventory_id].append(row)
        else:
            rows_by_inventory = defaultdict(list)
            for row in candidate_rows(session, keys) if keys else []:
                rows_by_inventory[row.inventory_id].append(row)
        session.expunge_all()
    report.package_rows_read = sum(len(v) for v in rows_by_inventory.values())
    inventory_ids = sorted(rows_by_inventory)
    report.inventories = len(inventory_ids)
    for start in range(0, len(inventory_ids), INVENTORY_BATCH):
        batch = inventory_ids[start : start + INVENTORY_BATCH]
        with store.session() as session:
            results = [
                _rematch_inventory(session, source, inv, rows_by_inventory[inv], alerts, reason) for inv in batch
            ]
            done = [r for r in results if r is not None]
            report.assets.extend(done)
            report.alerts_queued += sum(r.alerts for r in done)
            touched = [r for r in done if r.new or r.changed or r.not_applicable]
            if touched:
                audit.append_event(
                    store,
                    session,
                    audit.AuditAction.REMATCH,
                    "rematch",
                    {
                        "reason": reason,
                        "assets": [
                            {
                                "asset": r.identifier,
                                "new": list(r.new),
                                "changed": list(r.changed),
                                "not_applicable": list(r.not_applicable),
                            }
                            for r in touched
                        ][:MAX_LISTED_ASSETS],
                    },
                    actor=actor or "shieldwall-rematch",
                )
    summary = report.to_dict()
    summary.pop("assets")
    summary["reason"] = reason
    audit.record(store, audit.AuditAction.REMATCH, "rematch", summary, actor=actor or "shieldwall-rematch")
    return report


def _rematch_inventory(
    session: Session,
    source: AdvisorySource,
    inventory_id: int,
    rows: Sequence[InventoryPackage],
    alerts: AlertSettings | None,
    reason: str,
) -> AssetRematch | None:
    inventory = session.get(Inventory, inventory_id)
    if inventory is None:  # replaced by a scan since the rows were read
        return None
    asset = session.get(Asset, inventory.asset_id)
    if asset is None:  # pragma: no cover - cascade deletes inventories with assets
        return None
    layers = layers_from_json(inventory.layers)
    packages = [row_package(row, layers) for row in rows if row.inventory_id == inventory.id]
    os = os_from_json(inventory.os_info)
    findings = match_packages(packages, os, source).findings
    package_ids = {p.id for p in packages}
    existing = {
        row.fingerprint: row
        for row in session.scalars(
            select(StoredFinding).where(
                StoredFinding.asset_id == asset.id,
                StoredFinding.kind == str(FindingKind.VULNERABILITY),
                StoredFinding.package_id.in_(sorted(package_ids)),
            )
        )
    }
    now = utcnow()
    change: LifecycleChange = apply_lifecycle(
        session,
        asset.id,
        findings,
        existing,
        sweep=lambda row: row.package_id in package_ids,
        gone_status=FindingStatus.NOT_APPLICABLE,
        scan_id=None,
        now=now,
        packages={p.id: p for p in packages},
        exceptions=active_exceptions(session, now),
    )
    queued = 0
    if change.alertable:
        queued = queue_alerts(session, alerts, asset, current_tags(session, asset.id), change.alertable, reason)
    return AssetRematch(
        asset_id=asset.id,
        identifier=asset.identifier,
        golden=asset.golden,
        packages=len(packages),
        new=tuple(sorted(r.rule_id for r in change.new)),
        changed=tuple(sorted(r.rule_id for r in change.changed)),
        not_applicable=tuple(sorted(r.rule_id for r in change.gone)),
        alerts=queued,
    )


VULNDB_STATE = "vulndb.seen"


def vulndb_signature(db: Any) -> dict[str, str]:
    """What identifies one build of the advisory database: its update time and generation (when recorded)."""
    return {"updated_at": db.meta("updated_at"), "generation": db.meta("generation")}


def rematch_from_vulndb(
    store: Store,
    db_path: Any,
    *,
    alerts: AlertSettings | None = None,
    actor: str = "",
    full: bool = False,
    only_if_changed: bool = False,
) -> RematchReport | None:
    """Rematch after the advisory database at ``db_path`` changed; record the build as seen.

    The database keeps the change set of its LAST build only. When the store
    saw the build before the last one (generation N-1), the change set is
    exact; when the generations show missed builds, the rematch covers every
    inventory in scope (as ``full`` does), which is correct, only slower.
    Without a generation in the database the last change set is used.
    ``only_if_changed`` returns None when this build was already processed.
    """
    from shieldwall.vulndb.store import VulnDB

    with VulnDB.open(db_path, readonly=True) as db:
        signature = vulndb_signature(db)
        seen = store.get_setting(VULNDB_STATE)
        if only_if_changed and seen == signature:
            return None
        changed: frozenset[tuple[str, str]] | None = db.changed_packages()
        missed = _missed_builds(seen, signature)
        if full or missed:
            changed = None
        audit.record(
            store,
            audit.AuditAction.DB_UPDATED,
            f"vulndb:{db_path}",
            {
                **signature,
                "changed_packages": len(db.changed_packages()),
                "sources": [s.name for s in db.sources()],
                "full_rematch": changed is None,
            },
            actor=actor or "shieldwall-rematch",
        )
        reason = f"advisory database updated {signature['updated_at']}".strip()
        report = rematch(store, db, changed, alerts=alerts, actor=actor, reason=reason)
    store.put_setting(VULNDB_STATE, signature)
    return report


def _missed_builds(seen: Any, signature: dict[str, str]) -> bool:
    if not isinstance(seen, dict):
        return False  # first build this store sees: its scans matched against the previous one, if any
    before, now = str(seen.get("generation", "")), signature.get("generation", "")
    if before.isdigit() and now.isdigit():
        return int(now) != int(before) + 1
    return False
