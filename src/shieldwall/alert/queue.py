"""Queueing alerts for new findings: one outbox row per channel that wants the finding's severity."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.alert.config import AlertSettings
from shieldwall.alert.messages import alert_document
from shieldwall.model import Severity
from shieldwall.store.outbox import enqueue
from shieldwall.store.schema import Asset, AssetTag, StoredFinding


def queue_alerts(
    session: Session,
    settings: AlertSettings | None,
    asset: Asset,
    tags: list[str],
    rows: Iterable[StoredFinding],
    reason: str,
) -> int:
    """Write outbox rows for new findings at or above the alert threshold; returns how many were queued."""
    if settings is None or not settings.channels:
        return 0
    if settings.scope == "golden" and not asset.golden:
        return 0
    queued = 0
    for row in rows:
        severity = Severity(row.severity) if row.severity in Severity.__members__ else Severity.UNKNOWN
        for channel in settings.channels:
            threshold = channel.min_severity or settings.min_severity
            if severity.rank < threshold.rank:
                continue
            doc = alert_document(
                event="new-finding",
                asset=asset.identifier,
                repository=asset.repository,
                tags=tags,
                golden=asset.golden,
                fingerprint=row.fingerprint,
                rule_id=row.rule_id,
                severity=row.severity,
                title=row.title,
                package=row.package_name,
                installed_version=row.installed_version,
                fixed_version=row.fixed_version,
                status=row.status,
                reason=reason,
            )
            if enqueue(session, channel.name, "new-finding", asset.identifier, row.fingerprint, doc, asset_id=asset.id):
                queued += 1
    return queued


def current_tags(session: Session, asset_id: int) -> list[str]:
    """``repository:tag`` texts that point at the asset now."""
    return sorted(
        f"{t.repository}:{t.tag}"
        for t in session.scalars(select(AssetTag).where(AssetTag.asset_id == asset_id, AssetTag.current.is_(True)))
    )
