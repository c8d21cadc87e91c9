"""Recording scans: the asset and its tags, the scan, the inventory, drift, and the findings' lifecycle.

Everything one scan changes is written in one transaction together with its
audit event: the store never holds a scan without its trail entry.

Lifecycle of a stored finding (``FindingStatus``): a fingerprint seen for the
first time is ``open`` (or ``suppressed``, with the reason, when the scan's
policy or a stored exception sets it aside). Seen again: ``last_seen``
moves. Missing from a later scan of the same asset by the scanner family
that reports it: ``fixed``. Seen again after that: ``reopened``. A rematch
that no longer finds a vulnerability (an advisory withdrawn or corrected)
marks it ``not-applicable`` instead of fixed. Drift findings are events of
one tag move and are never swept.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from shieldwall.alert.config import AlertSettings
from shieldwall.model import Finding, FindingKind, ImageConfig, Package, ScanResult, Severity, TargetKind
from shieldwall.model.serialize import converter
from shieldwall.store import audit
from shieldwall.store.core import Store, utcnow
from shieldwall.store.drift import Snapshot, drift_findings, package_map
from shieldwall.store.inventory import layers_to_json, os_to_json, package_row
from shieldwall.store.schema import (
    Asset,
    AssetKind,
    AssetTag,
    Environment,
    ExceptionRule,
    FindingStatus,
    Inventory,
    InventoryPackage,
    Scan,
    StoredFinding,
)

SCANNER_KINDS: Mapping[str, tuple[FindingKind, ...]] = {
    "vuln": (FindingKind.VULNERABILITY,),
    "secret": (FindingKind.SECRET, FindingKind.SENSITIVE_FILE),
    "malware": (FindingKind.MALWARE,),
    "misconfig": (FindingKind.MISCONFIG,),
    "license": (FindingKind.LICENSE,),
}
GOLDEN_LABEL = "io.shieldwall.golden"
_INSERT_BATCH = 5000


@dataclass(frozen=True, slots=True)
class TagRef:
    """A repository tag that points at the scanned image; ``manifest_digest`` is what the tag resolved to."""

    repository: str
    tag: str
    manifest_digest: str = ""


@dataclass(frozen=True, slots=True)
class GoldenRules:
    """What makes an image golden without the store flag: a label value or a ``repository:tag`` glob."""

    labels: Mapping[str, str] = field(default_factory=lambda: {GOLDEN_LABEL: "true"})
    tag_patterns: tuple[str, ...] = ()

    def reason(self, labels: Mapping[str, str], tags: Iterable[TagRef]) -> str:
        """Why an image is golden ('' when it is not)."""
        for key, value in self.labels.items():
            if key in labels and (not value or labels[key].lower() == value.lower()):
                return f"label {key}={labels[key]}"
        for tag in tags:
            text = f"{tag.repository}:{tag.tag}"
            for pattern in self.tag_patterns:
                if fnmatch.fnmatchcase(text, pattern) or fnmatch.fnmatchcase(tag.tag, pattern):
                    return f"tag {text} matches {pattern}"
        return ""


@dataclass(slots=True)
class LifecycleChange:
    """What one scan or rematch did to an asset's stored findings."""

    new: list[StoredFinding] = field(default_factory=list)
    reopened: list[StoredFinding] = field(default_factory=list)
    changed: list[StoredFinding] = field(default_factory=list)
    gone: list[StoredFinding] = field(default_factory=list)
    seen: int = 0

    @property
    def alertable(self) -> list[StoredFinding]:
        """New and reopened findings that are not suppressed: what alerts are raised for."""
        return [row for row in (*self.new, *self.reopened) if row.status != FindingStatus.SUPPRESSED]

    def counts(self) -> dict[str, int]:
        """Counts for audit events and reports."""
        return {
            "new": len(self.new),
            "reopened": len(self.reopened),
            "changed": len(self.changed),
            "gone": len(self.gone),
            "seen": self.seen,
        }


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """What ``record_scan`` stored: the scan and asset IDs and the lifecycle counts."""

    scan_id: int
    asset_id: int
    asset_identifier: str
    golden: bool
    counts: Mapping[str, int]
    drift: int
    alertable: tuple[int, ...] = ()
    duplicate: bool = False


def asset_identity(result: ScanResult) -> tuple[AssetKind, str]:
    """The asset a scan result is about: images by digest, everything else by kind and name."""
    target = result.target
    if target.digest:
        return AssetKind.IMAGE, target.digest
    match target.ref.kind:
        case TargetKind.SBOM:
            return AssetKind.SBOM, f"sbom:{target.name}"
        case TargetKind.DIRECTORY:
            kind = AssetKind.HOST if target.ref.value.rstrip("/") == "" else AssetKind.SOURCE
            return kind, f"dir:{target.name}"
        case _:
            return AssetKind.IMAGE, f"{target.ref.kind}:{target.name}"


def image_config_to_json(config: ImageConfig | None) -> str:
    """The image config as JSON text ('' for none); the history is left out (it is in the layers)."""
    if config is None:
        return ""
    doc: dict[str, Any] = converter.unstructure(config)
    doc.pop("history", None)
    return json.dumps(doc, sort_keys=True)


def image_config_from_json(text: str) -> ImageConfig | None:
    """The inverse of ``image_config_to_json``."""
    if not text:
        return None
    return converter.structure(json.loads(text), ImageConfig)


def finding_to_json(finding: Finding) -> str:
    """A finding as JSON text (the stored ``data`` column)."""
    return json.dumps(converter.unstructure(finding), sort_keys=True, default=str)


def finding_from_json(text: str) -> Finding:
    """The inverse of ``finding_to_json``."""
    return converter.structure(json.loads(text), Finding)


def get_or_create_environment(session: Session, name: str) -> Environment:
    """The environment called ``name`` (created on first use)."""
    env = session.scalars(select(Environment).where(Environment.name == name)).first()
    if env is None:
        env = Environment(name=name, description="", created_at=utcnow())
        session.add(env)
        session.flush()
    return env


def _upsert_asset(
    session: Session, result: ScanResult, now: dt.datetime, environment: str, labels: Mapping[str, str]
) -> Asset:
    kind, identifier = asset_identity(result)
    asset = session.scalars(select(Asset).where(Asset.kind == str(kind), Asset.identifier == identifier)).first()
    if asset is None:
        asset = Asset(
            kind=str(kind),
            identifier=identifier,
            name=result.target.name[:1024],
            repository=result.target.repository[:512],
            golden_auto=False,
            golden_reason="",
            labels=json.dumps(dict(labels), sort_keys=True),
            platform=result.image.platform if result.image else "",
            active=True,
            first_seen=now,
            last_seen=now,
        )
        session.add(asset)
    else:
        asset.last_seen = now
        asset.labels = json.dumps(dict(labels), sort_keys=True)
        if result.target.repository and not asset.repository:
            asset.repository = result.target.repository[:512]
    if environment:
        asset.environment_id = get_or_create_environment(session, environment).id
    session.flush()
    return asset


def record_tags(session: Session, asset: Asset, tags: Sequence[TagRef], now: dt.datetime) -> None:
    """Point each tag at ``asset``; the assets the tags pointed at before lose them (and may turn inactive)."""
    for ref in tags:
        moved = list(
            session.scalars(
                select(AssetTag).where(
                    AssetTag.repository == ref.repository,
                    AssetTag.tag == ref.tag,
                    AssetTag.asset_id != asset.id,
                    AssetTag.current.is_(True),
                )
            )
        )
        for old in moved:
            old.current = False
        row = session.scalars(
            select(AssetTag).where(
                AssetTag.repository == ref.repository, AssetTag.tag == ref.tag, AssetTag.asset_id == asset.id
            )
        ).first()
        if row is None:
            session.add(
                AssetTag(
                    asset_id=asset.id,
                    repository=ref.repository[:512],
                    tag=ref.tag[:256],
                    manifest_digest=ref.manifest_digest,
                    current=True,
                    first_seen=now,
                    last_seen=now,
                )
            )
        else:
            row.current = True
            row.last_seen = now
            if ref.manifest_digest:
                row.manifest_digest = ref.manifest_digest
        session.flush()
        for old_asset_id in {r.asset_id for r in moved}:
            still = session.scalars(
                select(AssetTag.id).where(AssetTag.asset_id == old_asset_id, AssetTag.current.is_(True)).limit(1)
            ).first()
            if still is None:
                session.execute(update(Asset).where(Asset.id == old_asset_id).values(active=False))
    asset.active = True


def replace_inventory(session: Session, asset: Asset, result: ScanResult, scan_id: int, now: dt.datetime) -> Inventory:
    """Replace the asset's inventory with the packages of ``result``."""
    inventory = session.scalars(select(Inventory).where(Inventory.asset_id == asset.id)).first()
    if inventory is None:
        inventory = Inventory(asset_id=asset.id, updated_at=now)
        session.add(inventory)
        session.flush()
    else:
        session.execute(delete(InventoryPackage).where(InventoryPackage.inventory_id == inventory.id))
    inventory.scan_id = scan_id
    inventory.os_info = os_to_json(result.os)
    inventory.layers = layers_to_json(result.layers)
    inventory.package_count = len(result.packages)
    inventory.updated_at = now
    rows = [package_row(p, result.os, inventory.id) for p in result.packages]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(InventoryPackage), rows[start : start + _INSERT_BATCH])
    return inventory


def active_exceptions(session: Session, now: dt.datetime) -> list[ExceptionRule]:
    """Exceptions that are neither revoked nor expired."""
    rows = session.scalars(select(ExceptionRule).where(ExceptionRule.revoked_at.is_(None)))
    return [r for r in rows if r.expires_at is None or r.expires_at > now]


def exception_for(
    rules: Sequence[ExceptionRule], asset_id: int, finding: Finding, package_name: str
) -> ExceptionRule | None:
    """The first stored exception that covers ``finding`` on the asset, or None."""
    for rule in rules:
        if rule.asset_id is not None and rule.asset_id != asset_id:
            continue
        if rule.fingerprint and rule.fingerprint != finding.fingerprint:
            continue
        if rule.rule_id and rule.rule_id != finding.rule_id and rule.rule_id not in finding.aliases:
            continue
        if rule.package_name and rule.package_name != package_name:
            continue
        return rule
    return None


def _suppression(finding: Finding, rules: Sequence[ExceptionRule], asset_id: int, package_name: str) -> tuple[str, str]:
    if finding.suppressed:
        return finding.suppressed, "in-file comment"
    if finding.suppressions:
        first = finding.suppressions[0]
        return first.reason or first.rule, first.author or first.source or first.kind
    rule = exception_for(rules, asset_id, finding, package_name)
    if rule is not None:
        return rule.reason, f"exception #{rule.id}" + (f" by {rule.author}" if rule.author else "")
    return "", ""


def _signature(row: StoredFinding) -> tuple[str, ...]:
    data = json.loads(row.data) if row.data else {}
    vuln = data.get("vuln") or {}
    return (
        row.severity,
        row.title,
        row.fixed_version,
        ",".join(sorted(data.get("aliases") or ())),
        str(bool(vuln.get("kev"))),
    )


def apply_lifecycle(
    session: Session,
    asset_id: int,
    findings: Sequence[Finding],
    existing: Mapping[str, StoredFinding],
    *,
    sweep: Callable[[StoredFinding], bool],
    gone_status: FindingStatus,
    scan_id: int | None,
    now: dt.datetime,
    packages: Mapping[str, Package],
    exceptions: Sequence[ExceptionRule],
) -> LifecycleChange:
    """Merge ``findings`` into the asset's stored findings (``existing``: by fingerprint) and sweep the rest."""
    change = LifecycleChange()
    seen: set[str] = set()
    for finding in findings:
        fingerprint = finding.fingerprint
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        change.seen += 1
        package = packages.get(finding.package_id)
        package_name = package.name if package else ""
        reason, by = _suppression(finding, exceptions, asset_id, package_name)
        data = finding_to_json(finding)
        row = existing.get(fingerprint)
        if row is None:
            row = StoredFinding(
                asset_id=asset_id,
                fingerprint=fingerprint,
                kind=str(finding.kind),
                rule_id=finding.rule_id[:256],
                severity=str(finding.severity),
                title=finding.title,
                package_id=finding.package_id,
                package_name=package_name[:512],
                installed_version=(finding.vuln.installed_version if finding.vuln else "")[:256],
                fixed_version=(finding.vuln.fixed_version if finding.vuln else "")[:256],
                path=finding.location.path if finding.location else "",
                status=str(FindingStatus.SUPPRESSED if reason else FindingStatus.OPEN),
                first_seen=now,
                last_seen=now,
                reopen_count=0,
                suppressed_reason=reason,
                suppressed_by=by[:256],
                first_scan_id=scan_id,
                last_scan_id=scan_id,
                data=data,
            )
            session.add(row)
            change.new.append(row)
            continue
        before = _signature(row)
        previous = FindingStatus(row.status)
        row.severity = str(finding.severity)
        row.title = finding.title
        row.fixed_version = (finding.vuln.fixed_version if finding.vuln else "")[:256]
        row.installed_version = (finding.vuln.installed_version if finding.vuln else "")[:256]
        row.data = data
        row.last_seen = now
        if scan_id is not None:
            row.last_scan_id = scan_id
        if reason:
            row.status = str(FindingStatus.SUPPRESSED)
            row.suppressed_reason, row.suppressed_by = reason, by[:256]
        elif previous in (FindingStatus.FIXED, FindingStatus.NOT_APPLICABLE):
            row.status = str(FindingStatus.REOPENED)
            row.reopened_at = now
            row.reopen_count += 1
            row.fixed_at = None
            change.reopened.append(row)
        elif previous is FindingStatus.SUPPRESSED:
            row.status = str(FindingStatus.OPEN)
            row.suppressed_reason, row.suppressed_by = "", ""
        if before != _signature(row) and row not in change.reopened:
            change.changed.append(row)
    for fingerprint, row in existing.items():
        if fingerprint in seen or not sweep(row):
            continue
        if row.status in (FindingStatus.FIXED, FindingStatus.NOT_APPLICABLE):
            continue
        row.status = str(gone_status)
        row.fixed_at = now
        change.gone.append(row)
    session.flush()
    return change


def _swept_kinds(result: ScanResult, scanners: frozenset[str] | None) -> set[str]:
    chosen = scanners if scanners is not None else frozenset(SCANNER_KINDS)
    kinds = {str(kind) for name in chosen for kind in SCANNER_KINDS.get(name, ())}
    no_db = any(
        w.source == "vulnerability"
        and ("no vulnerability database" in w.message or w.message.startswith("not evaluated:"))
        for w in result.warnings
    )
    if no_db:  # not (all) matched: absence of vulnerability findings proves nothing
        kinds.discard(str(FindingKind.VULNERABILITY))
    return kinds


def _previous_snapshot(session: Session, tag: TagRef, asset_id: int) -> Snapshot | None:
    """The image ``tag`` points at now, when that is another asset: what drift compares against."""
    pointed = session.scalars(
        select(AssetTag)
        .where(
            AssetTag.repository == tag.repository,
            AssetTag.tag == tag.tag,
            AssetTag.current.is_(True),
            AssetTag.asset_id != asset_id,
        )
        .order_by(AssetTag.last_seen.desc())
        .limit(1)
    ).first()
    if pointed is None:
        return None
    return asset_snapshot(session, pointed.asset_id)


def asset_snapshot(session: Session, asset_id: int) -> Snapshot | None:
    """An asset's stored inventory and the image config of its last scan."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    scan = session.get(Scan, asset.last_scan_id) if asset.last_scan_id is not None else None
    rows = session.execute(
        select(InventoryPackage.type, InventoryPackage.name, InventoryPackage.version)
        .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
        .where(Inventory.asset_id == asset_id)
    ).all()
    return Snapshot(
        label=asset.identifier,
        packages=package_map((str(t), str(n), str(v)) for t, n, v in rows),
        image=image_config_from_json(scan.image_config) if scan is not None else None,
    )


def _summary(findings: Sequence[Finding]) -> dict[str, Any]:
    by_severity = {str(s): 0 for s in Severity}
    by_kind: dict[str, int] = {}
    for finding in findings:
        by_severity[str(finding.severity)] += 1
        by_kind[str(finding.kind)] = by_kind.get(str(finding.kind), 0) + 1
    return {"severity": by_severity, "kind": by_kind}


STORED_WARNINGS = 100
"""Warnings kept with a scan (the count is always whole); each message and path is cut at 1,000 characters."""


def _warnings(result: ScanResult) -> dict[str, Any]:
    """The scan's warnings (masked like the rest of the result), so that the API shows what was skipped and why."""
    if not result.warnings:
        return {}
    kept = [
        {"source": w.source[:64], "message": w.message[:1000], "path": w.path[:1000]}
        for w in result.warnings[:STORED_WARNINGS]
    ]
    return {"warnings": kept}


def _not_evaluated(result: ScanResult) -> dict[str, Any]:
    """Packages the vulnerability scanner did not evaluate (an opted-out gap), kept with the scan."""
    from shieldwall.match.coverage import gap_warnings, not_evaluated_packages

    gaps = gap_warnings(result)
    if not gaps:
        return {}
    return {"not_evaluated": {"packages": len(not_evaluated_packages(result)), "reasons": gaps[:20]}}


def record_scan(
    store: Store,
    result: ScanResult,
    *,
    trigger: str = "cli",
    actor: str = "",
    environment: str = "",
    tags: Sequence[TagRef] = (),
    scanners: frozenset[str] | None = None,
    golden: GoldenRules | None = None,
    verdict: str = "",
    target_text: str = "",
    alerts: AlertSettings | None = None,
    request_key: str = "",
) -> ScanRecord:
    """Store one scan result (asset, tags, scan, inventory, drift, findings) and its audit event.

    With ``alerts``, new findings are queued in the alert outbox in the same transaction.
    With ``request_key`` (what asked for the scan: an API job, a sweep...), the scan is recorded
    once per (asset digest, request): a second delivery returns the first record with
    ``duplicate=True`` and writes nothing (see ``store.idempotency``).
    """
    from shieldwall.store.idempotency import claim_scan, finish_claim

    now = utcnow()
    golden = golden or GoldenRules()
    labels = dict(result.image.labels) if result.image else {}
    all_tags = list(tags)
    if result.target.repository:
        for tag in result.target.tags:
            if not any(t.repository == result.target.repository and t.tag == tag for t in all_tags):
                all_tags.append(TagRef(result.target.repository, tag))
    with store.session() as session:
        claim = claim_scan(session, result, request_key, now) if request_key else None
        if claim is not None and isinstance(claim.existing, ScanRecord):
            return claim.existing
        asset = _upsert_asset(session, result, now, environment, labels)
        reason = golden.reason(labels, all_tags)
        asset.golden_auto = bool(reason) or asset.golden_auto
        if reason and not asset.golden_reason:
            asset.golden_reason = reason[:512]
        snapshots = [(tag, _previous_snapshot(session, tag, asset.id)) for tag in all_tags]
        record_tags(session, asset, all_tags, now)
        primary = all_tags[0] if all_tags else TagRef(result.target.repository, "")
        new_snapshot = Snapshot(
            label=asset.identifier,
            packages=package_map((str(p.type), p.name, p.version) for p in result.packages),
            image=result.image,
        )
        drift: list[Finding] = []
        for _tag, old in snapshots:
            if old is not None:
                drift.extend(drift_findings(old, new_snapshot))
        findings = list(result.findings) + drift
        scan = Scan(
            asset_id=asset.id,
            target=(target_text or str(result.target.ref))[:4000],
            repository=primary.repository[:512],
            tag=primary.tag[:256],
            trigger=trigger[:32],
            actor=(actor or audit.default_actor())[:256],
            started_at=result.started_at,
            finished_at=result.finished_at,
            recorded_at=now,
            tool_version=result.tool_version,
            verdict=verdict[:32],
            image_config=image_config_to_json(result.image),
            os_info=os_to_json(result.os),
            summary=json.dumps({**_summary(findings), **_not_evaluated(result), **_warnings(result)}, sort_keys=True),
            package_count=len(result.packages),
            finding_count=len(findings),
            warning_count=len(result.warnings),
        )
        session.add(scan)
        session.flush()
        asset.last_scan_id = scan.id
        replace_inventory(session, asset, result, scan.id, now)
        existing = {
            row.fingerprint: row
            for row in session.scalars(select(StoredFinding).where(StoredFinding.asset_id == asset.id))
        }
        kinds = _swept_kinds(result, scanners)
        change = apply_lifecycle(
            session,
            asset.id,
            findings,
            existing,
            sweep=lambda row: row.kind in kinds,
            gone_status=FindingStatus.FIXED,
            scan_id=scan.id,
            now=now,
            packages={p.id: p for p in result.packages},
            exceptions=active_exceptions(session, now),
        )
        counts = change.counts()
        queued = 0
        if alerts is not None and change.alertable:
            from shieldwall.alert.queue import current_tags, queue_alerts

            reason = f"found by a {trigger} scan"
            queued = queue_alerts(session, alerts, asset, current_tags(session, asset.id), change.alertable, reason)
        audit.append_event(
            store,
            session,
            audit.AuditAction.SCAN,
            f"{asset.kind}:{asset.identifier}",
            {
                "scan_id": scan.id,
                "asset_id": asset.id,
                "target": scan.target,
                "tags": [f"{t.repository}:{t.tag}" for t in all_tags],
                "trigger": trigger,
                "verdict": verdict,
                "packages": len(result.packages),
                "findings": len(findings),
                "drift": len(drift),
                "alerts_queued": queued,
                "severity": _summary(findings)["severity"],
                **{f"findings_{k}": v for k, v in counts.items()},
            },
            actor=actor,
        )
        if claim is not None:
            finish_claim(session, claim, scan.id, asset.id)
        return ScanRecord(
            scan_id=scan.id,
            asset_id=asset.id,
            asset_identifier=asset.identifier,
            golden=asset.golden,
            counts=counts,
            drift=len(drift),
            alertable=tuple(row.id for row in change.alertable),
        )


def record_tag(
    store: Store,
    asset_id: int,
    tag: TagRef,
    *,
    trigger: str = "monitor",
    actor: str = "",
    golden: GoldenRules | None = None,
) -> int:
    """Point ``tag`` at an already scanned asset (no new scan); record drift from the tag's previous image.

    Returns the number of drift findings recorded.
    """
    now = utcnow()
    with store.session() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise ValueError(f"no asset {asset_id}")
        old = _previous_snapshot(session, tag, asset.id)
        record_tags(session, asset, [tag], now)
        asset.last_seen = now
        reason = (golden or GoldenRules()).reason({}, [tag])
        if reason and not asset.golden_auto:
            asset.golden_auto, asset.golden_reason = True, reason[:512]
        drift: list[Finding] = []
        if old is not None:
            new = asset_snapshot(session, asset.id)
            drift = drift_findings(old, new) if new is not None else []
        if drift:
            apply_lifecycle(
                session,
                asset.id,
                drift,
                {},
                sweep=lambda row: False,
                gone_status=FindingStatus.FIXED,
                scan_id=asset.last_scan_id,
                now=now,
                packages={},
                exceptions=active_exceptions(session, now),
            )
        audit.append_event(
            store,
            session,
            audit.AuditAction.ASSET_CHANGED,
            f"{asset.kind}:{asset.identifier}",
            {
                "asset_id": asset.id,
                "tag_added": f"{tag.repository}:{tag.tag}",
                "manifest_digest": tag.manifest_digest,
                "trigger": trigger,
                "drift": len(drift),
            },
            actor=actor,
        )
        return len(drift)


def find_known_image(session: Session, repository: str, tag: str, manifest_digest: str) -> tuple[int, bool] | None:
    """``(asset_id, tag_already_current)`` for an image the store already scanned under this digest, or None."""
    rows = list(session.scalars(select(AssetTag).where(AssetTag.manifest_digest == manifest_digest).limit(50)))
    for row in rows:
        if row.repository == repository and row.tag == tag and row.current:
            return row.asset_id, True
    if rows:
        return rows[0].asset_id, False
    asset = session.scalars(
        select(Asset).where(Asset.kind == str(AssetKind.IMAGE), Asset.identifier == manifest_digest)
    ).first()
    if asset is not None:
        return asset.id, False
    return None
