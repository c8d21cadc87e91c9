"""Reading the store: findings and assets with filters, asset selectors, golden flags and exceptions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shieldwall.errors import InputError
from shieldwall.model import Severity
from shieldwall.store import audit
from shieldwall.store.core import Store, utcnow
from shieldwall.store.records import active_exceptions, exception_for, finding_from_json
from shieldwall.store.schema import (
    Asset,
    AssetTag,
    Environment,
    ExceptionRule,
    FindingStatus,
    Inventory,
    StoredFinding,
)


@dataclass(frozen=True, slots=True)
class FindingView:
    """One stored finding as reports and ``--format json`` show it."""

    id: int
    asset_id: int
    asset: str
    repository: str
    environment: str
    fingerprint: str
    kind: str
    rule_id: str
    severity: str
    title: str
    package: str
    installed_version: str
    fixed_version: str
    path: str
    status: str
    first_seen: str
    last_seen: str
    fixed_at: str
    reopened_at: str
    reopen_count: int
    suppressed_reason: str
    suppressed_by: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AssetView:
    """One asset as reports and ``--format json`` show it."""

    id: int
    kind: str
    identifier: str
    name: str
    repository: str
    tags: tuple[str, ...]
    environment: str
    golden: bool
    golden_reason: str
    active: bool
    platform: str
    packages: int
    open_findings: int
    first_seen: str
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def parse_severities(values: Sequence[str]) -> list[str]:
    """Validate ``--severity`` values (comma lists allowed; ``HIGH+`` means HIGH and above)."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            text = part.strip().upper()
            if not text:
                continue
            at_least = text.endswith("+")
            text = text.rstrip("+")
            try:
                severity = Severity(text)
            except ValueError:
                raise InputError(f"unknown severity {part.strip()!r} (choose from {', '.join(Severity)})") from None
            out.extend(str(s) for s in Severity if s.rank >= severity.rank) if at_least else out.append(str(severity))
    return sorted(set(out), key=lambda s: Severity(s).rank, reverse=True)


def parse_statuses(values: Sequence[str]) -> list[str]:
    """Validate ``--status`` values; ``active`` means open or reopened."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            text = part.strip().lower()
            if not text:
                continue
            if text == "active":
                out += [str(FindingStatus.OPEN), str(FindingStatus.REOPENED)]
                continue
            try:
                out.append(str(FindingStatus(text)))
            except ValueError:
                choices = ", ".join([*FindingStatus, "active"])
                raise InputError(f"unknown status {part.strip()!r} (choose from {choices})") from None
    return sorted(set(out))


def resolve_asset(session: Session, selector: str) -> Asset:
    """An asset by ID, digest (or a unique prefix of it), ``repository:tag`` (current tag) or identifier."""
    text = selector.strip()
    if not text:
        raise InputError("empty asset selector")
    if text.isdigit():
        found = session.get(Asset, int(text))
        if found is not None:
            return found
    exact = session.scalars(select(Asset).where(Asset.identifier == text)).first()
    if exact is not None:
        return exact
    if text.startswith(("sha256:", "sha512:")):
        matches = list(session.scalars(select(Asset).where(Asset.identifier.startswith(text)).limit(2)))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(f"asset selector {text!r} matches several digests; give more of it")
    repository, sep, tag = text.rpartition(":")
    if sep and "/" not in tag:
        row = session.scalars(
            select(AssetTag)
            .where(AssetTag.repository == repository, AssetTag.tag == tag, AssetTag.current.is_(True))
            .order_by(AssetTag.last_seen.desc())
            .limit(1)
        ).first()
        if row is not None:
            found = session.get(Asset, row.asset_id)
            if found is not None:
                return found
    raise InputError(f"no asset matches {text!r} (give an asset ID, a digest, or repository:tag)")


def list_findings(
    store: Store,
    *,
    severities: Sequence[str] = (),
    kinds: Sequence[str] = (),
    asset: str = "",
    statuses: Sequence[str] = (),
    environment: str = "",
    rule: str = "",
    limit: int = 0,
) -> list[FindingView]:
    """Stored findings, most severe and most recent first, filtered by every non-empty argument."""
    with store.session() as session:
        query = (
            select(StoredFinding, Asset, Environment.name)
            .join(Asset, Asset.id == StoredFinding.asset_id)
            .outerjoin(Environment, Environment.id == Asset.environment_id)
        )
        if severities:
            query = query.where(StoredFinding.severity.in_(list(severities)))
        if kinds:
            query = query.where(StoredFinding.kind.in_(list(kinds)))
        if statuses:
            query = query.where(StoredFinding.status.in_(list(statuses)))
        if environment:
            query = query.where(Environment.name == environment)
        if rule:
            query = query.where(StoredFinding.rule_id == rule)
        if asset:
            query = query.where(StoredFinding.asset_id == resolve_asset(session, asset).id)
        query = query.order_by(StoredFinding.last_seen.desc(), StoredFinding.id.desc())
        if limit:
            query = query.limit(limit)
        views = [finding_view(row, owner, env_name) for row, owner, env_name in session.execute(query).all()]
    rank = {str(s): s.rank for s in Severity}
    return sorted(views, key=lambda v: -rank.get(v.severity, 0))


def finding_view(row: StoredFinding, owner: Asset, env_name: str | None) -> FindingView:
    """The ``FindingView`` of one stored row (the shape ``shieldwall findings --format json`` prints)."""
    return FindingView(
        id=row.id,
        asset_id=owner.id,
        asset=owner.identifier,
        repository=owner.repository,
        environment=env_name or "",
        fingerprint=row.fingerprint,
        kind=row.kind,
        rule_id=row.rule_id,
        severity=row.severity,
        title=row.title,
        package=row.package_name,
        installed_version=row.installed_version,
        fixed_version=row.fixed_version,
        path=row.path,
        status=row.status,
        first_seen=_iso(row.first_seen),
        last_seen=_iso(row.last_seen),
        fixed_at=_iso(row.fixed_at),
        reopened_at=_iso(row.reopened_at),
        reopen_count=row.reopen_count,
        suppressed_reason=row.suppressed_reason,
        suppressed_by=row.suppressed_by,
    )


def _asset_filter(query: Any, *, environment: str, kind: str, repository: str, include_inactive: bool) -> Any:
    if environment:
        query = query.where(Environment.name == environment)
    if kind:
        query = query.where(Asset.kind == kind)
    if repository:
        query = query.where(Asset.repository == repository)
    if not include_inactive:
        query = query.where(Asset.active.is_(True))
    return query


def count_assets(
    store: Store, *, environment: str = "", kind: str = "", repository: str = "", include_inactive: bool = True
) -> int:
    """How many assets ``list_assets`` with the same filters returns (counted in the database)."""
    query = _asset_filter(
        select(func.count()).select_from(Asset).outerjoin(Environment, Environment.id == Asset.environment_id),
        environment=environment,
        kind=kind,
        repository=repository,
        include_inactive=include_inactive,
    )
    with store.session() as session:
        return int(session.scalar(query) or 0)


def list_assets(
    store: Store,
    *,
    environment: str = "",
    kind: str = "",
    golden: bool | None = None,
    repository: str = "",
    include_inactive: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[AssetView]:
    """Stored assets with their current tags and counts, newest first.

    ``limit``/``offset`` page the list in the database (tags and counts are
    then read for the page's assets only); they cannot be combined with
    ``golden``, which is decided per asset after loading.
    """
    if limit is not None and golden is not None:
        raise ValueError("list_assets: limit cannot be combined with golden")
    with store.session() as session:
        query = _asset_filter(
            select(Asset, Environment.name).outerjoin(Environment, Environment.id == Asset.environment_id),
            environment=environment,
            kind=kind,
            repository=repository,
            include_inactive=include_inactive,
        ).order_by(Asset.last_seen.desc(), Asset.id.desc())
        if limit is not None:
            query = query.limit(max(limit, 0)).offset(max(offset, 0))
        rows = session.execute(query).all()
        ids = [asset.id for asset, _ in rows]
        tags: dict[int, list[str]] = {}
        for tag in session.scalars(select(AssetTag).where(AssetTag.asset_id.in_(ids), AssetTag.current.is_(True))):
            tags.setdefault(tag.asset_id, []).append(f"{tag.repository}:{tag.tag}")
        open_counts = dict(
            session.execute(
                select(StoredFinding.asset_id, func.count())
                .where(
                    StoredFinding.asset_id.in_(ids),
                    StoredFinding.status.in_([str(FindingStatus.OPEN), str(FindingStatus.REOPENED)]),
                )
                .group_by(StoredFinding.asset_id)
            ).all()
        )
        packages = dict(
            session.execute(
                select(Inventory.asset_id, Inventory.package_count).where(Inventory.asset_id.in_(ids))
            ).all()
        )
        views = [
            AssetView(
                id=asset.id,
                kind=asset.kind,
                identifier=asset.identifier,
                name=asset.name,
                repository=asset.repository,
                tags=tuple(sorted(tags.get(asset.id, []))),
                environment=env_name or "",
                golden=asset.golden,
                golden_reason=asset.golden_reason
                if asset.golden_flag is None
                else ("flag set" if asset.golden_flag else "flag cleared"),
                active=asset.active,
                platform=asset.platform,
                packages=int(packages.get(asset.id, 0)),
                open_findings=int(open_counts.get(asset.id, 0)),
                first_seen=_iso(asset.first_seen),
                last_seen=_iso(asset.last_seen),
            )
            for asset, env_name in rows
        ]
    if golden is not None:
        views = [v for v in views if v.golden is golden]
    return views


def set_golden(store: Store, selector: str, on: bool | None, *, actor: str = "") -> AssetView:
    """Set (True), clear (False) or reset to the label/tag rules (None) an asset's golden flag; audited."""
    with store.session() as session:
        asset = resolve_asset(session, selector)
        before = asset.golden
        asset.golden_flag = on
        audit.append_event(
            store,
            session,
            audit.AuditAction.ASSET_CHANGED,
            f"{asset.kind}:{asset.identifier}",
            {"asset_id": asset.id, "golden_flag": on, "golden_before": before, "golden_after": asset.golden},
            actor=actor,
        )
        asset_id = asset.id
    return next(v for v in list_assets(store) if v.id == asset_id)


def set_environment(store: Store, selector: str, environment: str, *, actor: str = "") -> None:
    """Put an asset in an environment (created on first use); audited."""
    from shieldwall.store.records import get_or_create_environment

    with store.session() as session:
        asset = resolve_asset(session, selector)
        asset.environment_id = get_or_create_environment(session, environment).id if environment else None
        audit.append_event(
            store,
            session,
            audit.AuditAction.ASSET_CHANGED,
            f"{asset.kind}:{asset.identifier}",
            {"asset_id": asset.id, "environment": environment},
            actor=actor,
        )


def add_exception(
    store: Store,
    *,
    reason: str,
    fingerprint: str = "",
    rule_id: str = "",
    package_name: str = "",
    asset: str = "",
    expires: dt.datetime | None = None,
    author: str = "",
) -> int:
    """Store an exception, suppress the stored findings it covers, and audit it; returns its ID."""
    if not reason.strip():
        raise InputError("an exception needs a reason")
    if not (fingerprint or rule_id or package_name):
        raise InputError("an exception needs a fingerprint, a rule ID or a package name")
    now = utcnow()
    with store.session() as session:
        asset_id = resolve_asset(session, asset).id if asset else None
        rule = ExceptionRule(
            fingerprint=fingerprint,
            rule_id=rule_id,
            package_name=package_name,
            asset_id=asset_id,
            reason=reason,
            author=author or audit.default_actor(),
            created_at=now,
            expires_at=expires,
        )
        session.add(rule)
        session.flush()
        suppressed = _reapply_exceptions(session, now)
        audit.append_event(
            store,
            session,
            audit.AuditAction.EXCEPTION_ADDED,
            f"exception:{rule.id}",
            {
                "fingerprint": fingerprint,
                "rule_id": rule_id,
                "package": package_name,
                "asset_id": asset_id,
                "reason": reason,
                "expires": expires.isoformat() if expires else "",
                "findings_suppressed": suppressed,
            },
            actor=author,
        )
        return rule.id


def revoke_exception(store: Store, exception_id: int, *, actor: str = "") -> int:
    """Revoke an exception; the findings it covered become open again. Returns how many."""
    now = utcnow()
    with store.session() as session:
        rule = session.get(ExceptionRule, exception_id)
        if rule is None or rule.revoked_at is not None:
            raise InputError(f"no active exception #{exception_id}")
        rule.revoked_at = now
        rule.revoked_by = actor or audit.default_actor()
        session.flush()
        reopened = _reapply_exceptions(session, now, released=f"exception #{exception_id}")
        audit.append_event(
            store,
            session,
            audit.AuditAction.EXCEPTION_REVOKED,
            f"exception:{exception_id}",
            {"findings_released": reopened},
            actor=actor,
        )
        return reopened


def _reapply_exceptions(session: Session, now: dt.datetime, released: str = "") -> int:
    """Suppress active findings a current exception covers; release the ones ``released`` held. Returns changes."""
    rules = active_exceptions(session, now)
    changed = 0
    query = select(StoredFinding).where(
        or_(
            StoredFinding.status.in_([str(FindingStatus.OPEN), str(FindingStatus.REOPENED)]),
            StoredFinding.suppressed_by.startswith(released) if released else StoredFinding.id < 0,
        )
    )
    for row in session.scalars(query):
        finding = finding_from_json(row.data)
        rule = exception_for(rules, row.asset_id, finding, row.package_name)
        if rule is not None and row.status != FindingStatus.SUPPRESSED:
            row.status = str(FindingStatus.SUPPRESSED)
            row.suppressed_reason = rule.reason
            row.suppressed_by = f"exception #{rule.id}" + (f" by {rule.author}" if rule.author else "")
            changed += 1
        elif rule is None and released and _held_by(row.suppressed_by, released):
            row.status = str(FindingStatus.OPEN)
            row.suppressed_reason = row.suppressed_by = ""
            changed += 1
    return changed


def asset_labels(asset: Asset) -> dict[str, str]:
    """The image labels recorded with an asset."""
    try:
        data = json.loads(asset.labels or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _held_by(suppressed_by: str, released: str) -> bool:
    return suppressed_by == released or suppressed_by.startswith(released + " ")
