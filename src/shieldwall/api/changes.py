"""What changed: an asset's scans over time with new and resolved findings and package drift; the fleet's changes.

An image asset is one digest, so a repository tag that moves to a new digest
is a new asset. An asset's *history* is therefore every scan of the asset and
of the tags that ever pointed at it, newest first; two consecutive scans of
different digests are a rebuild, and their package drift is the difference of
the two digests' stored inventories (the store keeps one inventory per asset,
the one of its latest scan). A scan's *new* findings are those it recorded
first (``first_scan_id``); its *resolved* ones are those it marked fixed (the
store stamps ``fixed_at`` with the scan's ``recorded_at``) and that are still
fixed. The fleet view takes a period: assets first seen in it (added), tags
that moved to a new digest in it (rebuilt), images no tag points at any more
after such a move (retired), and findings first seen and fixed in it.

Read-only: every function opens its own transaction and returns frozen values;
the API (``routes/changes.py``) and the dashboard (``dashboard/changes.py``)
call the same functions, so their numbers are the same.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from shieldwall.api.queries import SEVERITY_ORDER, NotFoundError, ScanView, iso, scan_view
from shieldwall.match.versions import InvalidVersion, UnknownEcosystemError, scheme_for
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.queries import FindingView, finding_view
from shieldwall.store.schema import (
    Asset,
    AssetTag,
    Environment,
    FindingStatus,
    Inventory,
    InventoryPackage,
    Scan,
    StoredFinding,
)

MAX_HISTORY = 200
MAX_LISTED = 500
RESOLVED = (str(FindingStatus.FIXED), str(FindingStatus.NOT_APPLICABLE))
PACKAGE_CHANGES = ("added", "removed", "upgraded", "downgraded", "changed")


@dataclass(frozen=True, slots=True)
class PackageChange:
    """One package that differs between two images: ``change`` is one of ``PACKAGE_CHANGES``."""

    change: str
    type: str
    name: str
    before: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One scan in an asset's history and what it changed against the scan before it."""

    scan: ScanView
    digest: str
    previous_scan_id: int | None
    previous_asset_id: int | None
    image_changed: bool
    new_findings: int
    resolved_findings: int
    packages: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["scan"] = self.scan.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class AssetHistory:
    """An asset's scans (and those of its tags) newest first."""

    asset_id: int
    name: str
    identifier: str
    tags: tuple[str, ...]
    steps: tuple[HistoryStep, ...]
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "asset_id": self.asset_id,
            "name": self.name,
            "identifier": self.identifier,
            "tags": list(self.tags),
            "steps": [s.to_dict() for s in self.steps],
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class ScanChanges:
    """One step in full: the package changes and the findings that appeared and were resolved."""

    step: HistoryStep
    package_changes: tuple[PackageChange, ...]
    new: tuple[FindingView, ...]
    resolved: tuple[FindingView, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "step": self.step.to_dict(),
            "package_changes": [p.to_dict() for p in self.package_changes],
            "new": [f.to_dict() for f in self.new],
            "resolved": [f.to_dict() for f in self.resolved],
        }


# -- package drift --------------------------------------------------------------------------------


def _inventory(session: Session, asset_id: int) -> dict[tuple[str, str], tuple[str, set[str]]]:
    rows = session.execute(
        select(InventoryPackage.type, InventoryPackage.name, InventoryPackage.ecosystem, InventoryPackage.version)
        .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
        .where(Inventory.asset_id == asset_id)
    ).all()
    out: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for kind, name, ecosystem, version in rows:
        entry = out.setdefault((str(kind), str(name)), (str(ecosystem), set()))
        entry[1].add(str(version))
    return out


def _direction(ecosystem: str, before: str, after: str) -> str:
    try:
        scheme = scheme_for(ecosystem)
        old, new = scheme.parse(before), scheme.parse(after)
    except (InvalidVersion, UnknownEcosystemError, ValueError):
        return "changed"
    if new > old:
        return "upgraded"
    if new < old:
        return "downgraded"
    return "changed"


def package_diff(
    old: dict[tuple[str, str], tuple[str, set[str]]], new: dict[tuple[str, str], tuple[str, set[str]]]
) -> list[PackageChange]:
    """Packages added, removed, upgraded, downgraded or otherwise changed between two inventories."""
    changes: list[PackageChange] = []
    for key in sorted(set(old) | set(new)):
        kind, name = key
        before, after = old.get(key), new.get(key)
        if before is not None and after is not None and before[1] == after[1]:
            continue
        if before is None:
            assert after is not None
            changes.append(PackageChange("added", kind, name, "", ", ".join(sorted(after[1]))))
        elif after is None:
            changes.append(PackageChange("removed", kind, name, ", ".join(sorted(before[1])), ""))
        else:
            a, b = ", ".join(sorted(before[1])), ", ".join(sorted(after[1]))
            single = len(before[1]) == 1 and len(after[1]) == 1
            change = _direction(after[0] or before[0], a, b) if single else "changed"
            changes.append(PackageChange(change, kind, name, a, b))
    return changes


def _counts(changes: Iterable[PackageChange]) -> dict[str, int]:
    counted = Counter(c.change for c in changes)
    return {name: counted.get(name, 0) for name in PACKAGE_CHANGES}


# -- an asset's history ---------------------------------------------------------------------------


def _asset(session: Session, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFoundError(f"no asset #{asset_id}")
    return asset


def _lineage_scans(session: Session, asset: Asset, limit: int) -> tuple[list[Scan], list[tuple[str, str]]]:
    tags = [
        (str(r), str(t))
        for r, t in session.execute(
            select(AssetTag.repository, AssetTag.tag).where(AssetTag.asset_id == asset.id).distinct()
        ).all()
    ]
    condition = Scan.asset_id == asset.id
    if tags:
        condition = or_(condition, tuple_(Scan.repository, Scan.tag).in_(tags))
    rows = list(session.scalars(select(Scan).where(condition).order_by(Scan.id.desc()).limit(limit + 1)))
    return rows, tags


def _new_counts(session: Session, scan_ids: Sequence[int]) -> dict[int, int]:
    if not scan_ids:
        return {}
    rows = session.execute(
        select(StoredFinding.first_scan_id, func.count())
        .where(StoredFinding.first_scan_id.in_(scan_ids))
        .group_by(StoredFinding.first_scan_id)
    ).all()
    return {int(s): int(n) for s, n in rows if s is not None}


def _resolved_condition(scan: Scan) -> Any:
    return and_(
        StoredFinding.asset_id == scan.asset_id,
        StoredFinding.fixed_at == scan.recorded_at,
        StoredFinding.status.in_(RESOLVED),
    )


def _resolved_counts(session: Session, scans: Sequence[Scan]) -> dict[int, int]:
    out: dict[int, int] = {}
    for scan in scans:  # one indexed lookup per scan (asset_id, fixed_at)
        out[scan.id] = int(session.scalar(select(func.count()).where(_resolved_condition(scan))) or 0)
    return out


def _steps(session: Session, rows: list[Scan], limit: int, drift_for: int) -> list[HistoryStep]:
    shown = rows[:limit]
    ids = [r.id for r in shown]
    new = _new_counts(session, ids)
    resolved = _resolved_counts(session, shown)
    identifiers = dict(
        session.execute(select(Asset.id, Asset.identifier).where(Asset.id.in_({r.asset_id for r in rows}))).all()
    )
    inventories: dict[int, dict[tuple[str, str], tuple[str, set[str]]]] = {}
    steps: list[HistoryStep] = []
    for index, row in enumerate(shown):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        changed = previous is not None and previous.asset_id != row.asset_id
        packages: dict[str, int] = {}
        if changed and previous is not None and index < drift_for:
            for asset_id in (row.asset_id, previous.asset_id):
                if asset_id not in inventories:
                    inventories[asset_id] = _inventory(session, asset_id)
            packages = _counts(package_diff(inventories[previous.asset_id], inventories[row.asset_id]))
        steps.append(
            HistoryStep(
                scan=scan_view(row),
                digest=str(identifiers.get(row.asset_id, "")),
                previous_scan_id=previous.id if previous is not None else None,
                previous_asset_id=previous.asset_id if previous is not None else None,
                image_changed=changed,
                new_findings=new.get(row.id, 0),
                resolved_findings=resolved.get(row.id, 0),
                packages=packages,
            )
        )
    return steps


def asset_history(store: Store, asset_id: int, *, limit: int = 50, drift_for: int = 20) -> AssetHistory:
    """The asset's scans and its tags' scans, newest first, each with what it changed.

    Package drift is computed for the newest ``drift_for`` steps that changed
    digest (older ones show it on their own page); ``NotFoundError`` when there
    is no such asset.
    """
    limit = max(1, min(limit, MAX_HISTORY))
    with store.session() as session:
        asset = _asset(session, asset_id)
        rows, tags = _lineage_scans(session, asset, limit)
        steps = _steps(session, rows, limit, drift_for)
        return AssetHistory(
            asset_id=asset.id,
            name=asset.name,
            identifier=asset.identifier,
            tags=tuple(sorted(f"{r}:{t}" for r, t in tags)),
            steps=tuple(steps),
            truncated=len(rows) > limit,
        )


def _findings(session: Session, condition: Any, order: Any) -> list[FindingView]:
    rows = session.execute(
        select(StoredFinding, Asset, Environment.name)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
        .where(condition)
        .order_by(order)
        .limit(MAX_LISTED)
    ).all()
    views = [finding_view(r, owner, env) for r, owner, env in rows]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    views.sort(key=lambda f: (rank.get(f.severity, 99), f.rule_id, f.id))
    return views


def scan_changes(store: Store, asset_id: int, scan_id: int) -> ScanChanges:
    """One scan of the asset's history in full (at most ``MAX_LISTED`` findings per list; counts are exact)."""
    with store.session() as session:
        asset = _asset(session, asset_id)
        scan = session.get(Scan, scan_id)
        rows, _tags = _lineage_scans(session, asset, MAX_HISTORY * 50)
        ids = [r.id for r in rows]
        if scan is None or scan.id not in ids:
            raise NotFoundError(f"scan #{scan_id} is not in the history of asset #{asset_id}")
        position = ids.index(scan.id)
        pair = rows[position : position + 2]
        step = _steps(session, pair, 1, 1)[0]
        changes: list[PackageChange] = []
        if step.image_changed and step.previous_asset_id is not None:
            changes = package_diff(_inventory(session, step.previous_asset_id), _inventory(session, scan.asset_id))
        new = _findings(session, StoredFinding.first_scan_id == scan.id, StoredFinding.id)
        resolved = _findings(session, _resolved_condition(scan), StoredFinding.id)
        return ScanChanges(step=step, package_changes=tuple(changes), new=tuple(new), resolved=tuple(resolved))


# -- the fleet ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetChange:
    """An asset added or retired in the period."""

    asset_id: int
    kind: str
    name: str
    identifier: str
    environment: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Rebuild:
    """A tag that moved to a new digest in the period."""

    repository: str
    tag: str
    at: str
    old_asset_id: int
    old_digest: str
    new_asset_id: int
    new_digest: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FleetChanges:
    """What the fleet gained, lost and rebuilt in ``[since, until)``, and the findings that came and went."""

    since: str
    until: str
    added_count: int
    rebuilt_count: int
    retired_count: int
    added: tuple[AssetChange, ...]
    rebuilt: tuple[Rebuild, ...]
    retired: tuple[AssetChange, ...]
    new_findings: dict[str, int]
    resolved_findings: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "since": self.since,
            "until": self.until,
            "added_count": self.added_count,
            "rebuilt_count": self.rebuilt_count,
            "retired_count": self.retired_count,
            "added": [a.to_dict() for a in self.added],
            "rebuilt": [r.to_dict() for r in self.rebuilt],
            "retired": [r.to_dict() for r in self.retired],
            "new_findings": dict(self.new_findings),
            "resolved_findings": dict(self.resolved_findings),
        }


def period(days: int, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """``[now - days, now)`` as aware UTC instants."""
    end = now or utcnow()
    return end - dt.timedelta(days=days), end


def _by_severity(rows: Iterable[tuple[Any, Any]]) -> dict[str, int]:
    found = {str(s): int(n) for s, n in rows}
    return {s: found.get(s, 0) for s in SEVERITY_ORDER}


def _asset_change(asset: Asset, env: str | None, at: dt.datetime) -> AssetChange:
    return AssetChange(asset.id, asset.kind, asset.name, asset.identifier, env or "", iso(at))


def _rebuilds(session: Session, since: dt.datetime, until: dt.datetime) -> list[Rebuild]:
    moved = list(
        session.scalars(
            select(AssetTag)
            .where(AssetTag.first_seen >= since, AssetTag.first_seen < until)
            .order_by(AssetTag.first_seen.desc(), AssetTag.id.desc())
        )
    )
    if not moved:
        return []
    keys = list({(m.repository, m.tag) for m in moved})
    history: dict[tuple[str, str], list[AssetTag]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for row in session.scalars(
            select(AssetTag).where(tuple_(AssetTag.repository, AssetTag.tag).in_(chunk)).order_by(AssetTag.first_seen)
        ):
            history.setdefault((row.repository, row.tag), []).append(row)
    pairs: list[tuple[AssetTag, AssetTag]] = []
    for row in moved:
        earlier = [
            h
            for h in history.get((row.repository, row.tag), [])
            if h.asset_id != row.asset_id and (h.first_seen, h.id) < (row.first_seen, row.id)
        ]
        if earlier:
            pairs.append((earlier[-1], row))
    ids = {p.asset_id for pair in pairs for p in pair}
    digests = dict(session.execute(select(Asset.id, Asset.identifier).where(Asset.id.in_(ids))).all()) if ids else {}
    return [
        Rebuild(
            repository=new.repository,
            tag=new.tag,
            at=iso(new.first_seen),
            old_asset_id=old.asset_id,
            old_digest=str(digests.get(old.asset_id, "")),
            new_asset_id=new.asset_id,
            new_digest=str(digests.get(new.asset_id, "")),
        )
        for old, new in pairs
    ]


def fleet_changes(store: Store, since: dt.datetime, until: dt.datetime, *, limit: int = 200) -> FleetChanges:
    """Assets added, tags rebuilt, images retired and findings new and resolved in ``[since, until)``.

    Counts are exact; each list holds at most ``limit`` entries, newest first.
    """
    limit = max(1, min(limit, MAX_LISTED))
    with store.session() as session:
        rebuilds = _rebuilds(session, since, until)
        rebuilt_new = {r.new_asset_id for r in rebuilds}
        added_rows = session.execute(
            select(Asset, Environment.name)
            .outerjoin(Environment, Environment.id == Asset.environment_id)
            .where(Asset.first_seen >= since, Asset.first_seen < until)
            .order_by(Asset.first_seen.desc(), Asset.id.desc())
        ).all()
        added = [_asset_change(a, env, a.first_seen) for a, env in added_rows if a.id not in rebuilt_new]
        when_retired: dict[int, str] = {}
        for rebuild in rebuilds:
            when_retired.setdefault(rebuild.old_asset_id, rebuild.at)
        retired: list[AssetChange] = []
        if when_retired:
            for asset, env in session.execute(
                select(Asset, Environment.name)
                .outerjoin(Environment, Environment.id == Asset.environment_id)
                .where(Asset.id.in_(list(when_retired)), Asset.active.is_(False))
            ).all():
                retired.append(
                    AssetChange(asset.id, asset.kind, asset.name, asset.identifier, env or "", when_retired[asset.id])
                )
        retired.sort(key=lambda a: (a.at, a.asset_id), reverse=True)
        new_findings = _by_severity(
            session.execute(
                select(StoredFinding.severity, func.count())
                .where(StoredFinding.first_seen >= since, StoredFinding.first_seen < until)
                .group_by(StoredFinding.severity)
            ).all()
        )
        resolved_findings = _by_severity(
            session.execute(
                select(StoredFinding.severity, func.count())
                .where(
                    StoredFinding.fixed_at >= since,
                    StoredFinding.fixed_at < until,
                    StoredFinding.status.in_(RESOLVED),
                )
                .group_by(StoredFinding.severity)
            ).all()
        )
    return FleetChanges(
        since=iso(since),
        until=iso(until),
        added_count=len(added),
        rebuilt_count=len(rebuilds),
        retired_count=len(retired),
        added=tuple(added[:limit]),
        rebuilt=tuple(rebuilds[:limit]),
        retired=tuple(retired[:limit]),
        new_findings=new_findings,
        resolved_findings=resolved_findings,
    )
