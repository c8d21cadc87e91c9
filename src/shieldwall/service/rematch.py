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
from shieldwall.match.matcher import AdvisorySource, PrioritySource, match_packages
from shieldwall.model import FindingKind, Package
from shieldwall.store import audit
from shieldwall.store.core import Store, utcnow
from shieldwall.store.inventory import changed_keys, layers_from_json, os_from_json, row_package
from shieldwall.store.records import LifecycleChange, active_exceptions, apply_lifecycle
from shieldwall.store.schema import Asset, FindingStatus, Inventory, InventoryPackage, StoredFinding
from shieldwall.vulndb.model import Advisory, EpssEntry, KevEntry

log = logging.getLogger(__name__)

NAME_BATCH = 500
INVENTORY_BATCH = 100
MAX_LISTED_ASSETS = 200
MAX_BOUND_PACKAGE_IDS = 5000


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
    rows_by_inventory: dict[int, list[InventoryPackage]] = defaultdict(list)
    with store.session() as session:
        if changed is None:  # every inventory in scope; its rows are read batch by batch below
            inventory_ids = list(
                session.scalars(select(Inventory.id).join(Asset, Asset.id == Inventory.asset_id).where(_in_scope()))
            )
        else:
            for row in candidate_rows(session, keys) if keys else []:
                rows_by_inventory[row.inventory_id].append(row)
            inventory_ids = sorted(rows_by_inventory)
        session.expunge_all()
    report.inventories = len(inventory_ids)
    cached = CachedAdvisories(source)
    for start in range(0, len(inventory_ids), INVENTORY_BATCH):
        batch = inventory_ids[start : start + INVENTORY_BATCH]
        with store.session() as session:
            if changed is None:
                rows_by_inventory = defaultdict(list)
                for row in _all_rows(session, batch):
                    rows_by_inventory[row.inventory_id].append(row)
            report.package_rows_read += sum(len(rows_by_inventory.get(i, ())) for i in batch)
            done = _rematch_batch(session, cached, batch, rows_by_inventory, alerts, reason)
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


class CachedAdvisories:
    """An advisory source that looks each (ecosystem, name) up once per rematch (inventories share names)."""

    def __init__(self, source: AdvisorySource) -> None:
        self._source = source
        self._cache: dict[tuple[str, str], Sequence[Advisory]] = {}

    def lookup(self, ecosystem: str, name: str) -> Sequence[Advisory]:
        """Advisories for ``name`` in ``ecosystem`` (cached)."""
        key = (ecosystem, name)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._source.lookup(ecosystem, name)
            self._cache[key] = hit
        return hit

    def kev(self, cve_id: str) -> KevEntry | None:
        """The source's KEV entry, when it has KEV data."""
        return self._source.kev(cve_id) if isinstance(self._source, PrioritySource) else None

    def epss(self, cve_id: str) -> EpssEntry | None:
        """The source's EPSS score, when it has EPSS data."""
        return self._source.epss(cve_id) if isinstance(self._source, PrioritySource) else None


def _rematch_batch(
    session: Session,
    source: CachedAdvisories,
    batch: Sequence[int],
    rows_by_inventory: dict[int, list[InventoryPackage]],
    alerts: AlertSettings | None,
    reason: str,
) -> list[AssetRematch]:
    """Rematch a batch of inventories in one transaction, reading their assets and findings in bulk."""
    inventories = list(session.scalars(select(Inventory).where(Inventory.id.in_(list(batch)))))
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_([i.asset_id for i in inventories])))}
    rebuilt: dict[int, tuple[Inventory, list[Package]]] = {}
    all_ids: set[str] = set()
    for inventory in inventories:
        layers = layers_from_json(inventory.layers)
        packages = [row_package(row, layers) for row in rows_by_inventory.get(inventory.id, ())]
        rebuilt[inventory.id] = (inventory, packages)
        all_ids.update(p.id for p in packages)
    query = select(StoredFinding).where(
        StoredFinding.asset_id.in_(list(assets)), StoredFinding.kind == str(FindingKind.VULNERABILITY)
    )
    if len(all_ids) <= MAX_BOUND_PACKAGE_IDS:
        query = query.where(StoredFinding.package_id.in_(sorted(all_ids)))
    existing: dict[int, dict[str, StoredFinding]] = defaultdict(dict)
    for row in session.scalars(query):
        existing[row.asset_id][row.fingerprint] = row
    now = utcnow()
    exceptions = active_exceptions(session, now)
    results: list[AssetRematch] = []
    for inventory_id in batch:
        if inventory_id not in rebuilt:  # replaced by a scan since the rows were read
            continue
        inventory, packages = rebuilt[inventory_id]
        asset = assets.get(inventory.asset_id)
        if asset is None:  # pragma: no cover - cascade deletes inventories with assets
            continue
        findings = match_packages(packages, os_from_json(inventory.os_info), source).findings
        package_ids = {p.id for p in packages}
        mine = {fp: row for fp, row in existing[asset.id].items() if row.package_id in package_ids}
        change: LifecycleChange = apply_lifecycle(
            session,
            asset.id,
            findings,
            mine,
            sweep=lambda row, ids=package_ids: row.package_id in ids,  # type: ignore[misc]
            gone_status=FindingStatus.NOT_APPLICABLE,
            scan_id=None,
            now=now,
            packages={p.id: p for p in packages},
            exceptions=exceptions,
        )
        queued = 0
        if change.alertable and alerts is not None and alerts.channels:
            queued = queue_alerts(session, alerts, asset, current_tags(session, asset.id), change.alertable, reason)
        results.append(
            AssetRematch(
                asset_id=asset.id,
                identifier=asset.identifier,
                golden=asset.golden,
                packages=len(packages),
                new=tuple(sorted(r.rule_id for r in change.new)),
                changed=tuple(sorted(r.rule_id for r in change.changed)),
                not_applicable=tuple(sorted(r.rule_id for r in change.gone)),
                alerts=queued,
            )
        )
    return results


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
    try:  # virtual patches follow the rematched findings (new shields recommended, fixed ones unassigned)
        from shieldwall.vpatch.recommend import on_database_update

        on_database_update(store)
    except Exception as exc:  # the rematch stands; the recommendation failure is logged, not hidden
        logging.getLogger("shieldwall.rematch").warning("virtual-patch recommendation pass failed: %s", exc)
    return report


def _missed_builds(seen: Any, signature: dict[str, str]) -> bool:
    if not isinstance(seen, dict):
        return False  # first build this store sees: its scans matched against the previous one, if any
    before, now = str(seen.get("generation", "")), signature.get("generation", "")
    if before.isdigit() and now.isdigit():
        return int(now) != int(before) + 1
    return False
