"""The read side of the API and the dashboard: pages of findings, asset detail, layers, scans, overview numbers.

The store's own queries (``store.queries``) serve the command line; this
module adds what a web client needs on top of the same tables: cursor
pagination with a stable order, free-text search, one finding with its
evidence and exception history, an asset's layers with what each introduced,
and the overview's aggregates. Every function opens its own transaction and
returns frozen values; nothing here writes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from shieldwall.errors import InputError
from shieldwall.model import Finding, FindingKind, Severity
from shieldwall.store import Store
from shieldwall.store.audit import AuditAction
from shieldwall.store.core import utcnow
from shieldwall.store.inventory import layers_from_json, os_from_json
from shieldwall.store.queries import FindingView, finding_view
from shieldwall.store.records import finding_from_json
from shieldwall.store.schema import (
    Asset,
    AssetTag,
    AuditCheckpoint,
    AuditEvent,
    Environment,
    ExceptionRule,
    FindingStatus,
    Inventory,
    InventoryPackage,
    OutboxAlert,
    Scan,
    StoredFinding,
)

MAX_PAGE = 500
ACTIVE = (str(FindingStatus.OPEN), str(FindingStatus.REOPENED))
SEVERITY_ORDER = [str(s) for s in sorted(Severity, key=lambda s: s.rank, reverse=True)]


class NotFoundError(InputError):
    """The thing asked for does not exist (the API answers 404)."""


def iso(value: dt.datetime | None) -> str:
    """An instant as ISO 8601 with seconds ('' for none)."""
    return value.isoformat(timespec="seconds") if value else ""


# -- findings: filters, sort order, cursor -------------------------------------------------------


class FindingSort(StrEnum):
    """Orders a page of findings can be sorted by (ties broken by ID)."""

    SEVERITY = "severity"
    LAST_SEEN = "last_seen"
    FIRST_SEEN = "first_seen"
    ID = "id"


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Which findings to list; empty fields do not filter."""

    severities: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    asset_id: int | None = None
    environment: str = ""
    rule: str = ""
    q: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the opaque cursor of the next one ('' at the end)."""

    items: tuple[Any, ...]
    next_cursor: str = ""


def _severity_rank() -> ColumnElement[int]:
    return case({str(s): s.rank for s in Severity}, value=StoredFinding.severity, else_=0)


def _sort_column(sort: FindingSort) -> ColumnElement[Any]:
    match sort:
        case FindingSort.SEVERITY:
            return _severity_rank()
        case FindingSort.LAST_SEEN:
            return StoredFinding.last_seen  # type: ignore[return-value]
        case FindingSort.FIRST_SEEN:
            return StoredFinding.first_seen  # type: ignore[return-value]
        case FindingSort.ID:
            return StoredFinding.id  # type: ignore[return-value]


def encode_cursor(sort: str, descending: bool, key: Any, last_id: int) -> str:
    """An opaque cursor: where the previous page ended, in which order."""
    doc = json.dumps([sort, descending, key, last_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[Any, int]:
    """The (key, id) a cursor points after; ``InputError`` when it is malformed or from another order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError("invalid cursor") from None
    if (
        not isinstance(doc, list)
        or len(doc) != 4
        or doc[0] != sort
        or doc[1] != descending
        or not isinstance(doc[3], int)
        or isinstance(doc[3], bool)
    ):
        raise InputError("invalid cursor (or one from a listing with another sort order)")
    return doc[2], doc[3]


def _cursor_key(sort: FindingSort, row: StoredFinding) -> Any:
    match sort:
        case FindingSort.SEVERITY:
            try:
                return Severity(row.severity).rank
            except ValueError:
                return 0
        case FindingSort.LAST_SEEN:
            return iso_micro(row.last_seen)
        case FindingSort.FIRST_SEEN:
            return iso_micro(row.first_seen)
        case FindingSort.ID:
            return row.id


def iso_micro(value: dt.datetime) -> str:
    """An instant with microseconds (cursor keys must not lose precision)."""
    return value.isoformat(timespec="microseconds")


def _key_value(sort: FindingSort, key: Any) -> Any:
    if sort in (FindingSort.LAST_SEEN, FindingSort.FIRST_SEEN):
        if not isinstance(key, str):
            raise InputError("invalid cursor")
        try:
            return dt.datetime.fromisoformat(key)
        except ValueError:
            raise InputError("invalid cursor") from None
    if not isinstance(key, int) or isinstance(key, bool):
        raise InputError("invalid cursor")
    return key


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _apply_filter(query: Any, filt: FindingFilter) -> Any:
    if filt.severities:
        query = query.where(StoredFinding.severity.in_(list(filt.severities)))
    if filt.kinds:
        query = query.where(StoredFinding.kind.in_(list(filt.kinds)))
    if filt.statuses:
        query = query.where(StoredFinding.status.in_(list(filt.statuses)))
    if filt.asset_id is not None:
        query = query.where(StoredFinding.asset_id == filt.asset_id)
    if filt.environment:
        query = query.where(Environment.name == filt.environment)
    if filt.rule:
        query = query.where(StoredFinding.rule_id == filt.rule)
    if filt.q.strip():
        pattern = _like(filt.q.strip()[:200])
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        StoredFinding.rule_id,
                        StoredFinding.title,
                        StoredFinding.package_name,
                        StoredFinding.path,
                        Asset.identifier,
                        Asset.name,
                    )
                )
            )
        )
    return query


def _base_findings_query() -> Any:
    return (
        select(StoredFinding, Asset, Environment.name)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
    )


def _needs_asset(filt: FindingFilter) -> bool:
    """Whether ``filt`` reads asset or environment columns (else the findings table alone answers)."""
    return bool(filt.environment or filt.q.strip())


def _filtered_ids_query(filt: FindingFilter) -> Any:
    query = select(StoredFinding.id)
    if _needs_asset(filt):  # an inner join on the (non-null) foreign key keeps every finding once
        query = query.join(Asset, Asset.id == StoredFinding.asset_id).outerjoin(
            Environment, Environment.id == Asset.environment_id
        )
    return _apply_filter(query, filt)


def page_findings(
    store: Store,
    filt: FindingFilter,
    *,
    sort: FindingSort = FindingSort.SEVERITY,
    descending: bool = True,
    limit: int = 50,
    cursor: str = "",
) -> Page:
    """One page of findings in a stable order (the sort key, then ID); ``next_cursor`` continues it.

    The database first orders and limits the matching IDs alone (an index-only
    scan where an index covers the filter), then loads the page's rows with
    their assets.
    """
    limit = max(1, min(limit, MAX_PAGE))
    column = _sort_column(sort)
    query = _filtered_ids_query(filt)
    if cursor:
        raw_key, last_id = decode_cursor(cursor, str(sort), descending)
        key = _key_value(sort, raw_key)
        if sort is FindingSort.ID:
            query = query.where(StoredFinding.id < last_id if descending else StoredFinding.id > last_id)
        elif descending:
            query = query.where(or_(column < key, and_(column == key, StoredFinding.id < last_id)))
        else:
            query = query.where(or_(column > key, and_(column == key, StoredFinding.id > last_id)))
    if sort is FindingSort.ID:
        order = [StoredFinding.id.desc() if descending else StoredFinding.id.asc()]
    else:
        order = [column.desc(), StoredFinding.id.desc()] if descending else [column.asc(), StoredFinding.id.asc()]
    with store.session() as session:
        ids = list(session.scalars(query.order_by(*order).limit(limit + 1)))
        shown = ids[:limit]
        loaded = (
            {
                row.id: (row, owner, env)
                for row, owner, env in session.execute(_base_findings_query().where(StoredFinding.id.in_(shown))).all()
            }
            if shown
            else {}
        )
        rows = [loaded[i] for i in shown if i in loaded]
        views = [finding_view(row, owner, env) for row, owner, env in rows]
        next_cursor = ""
        if len(ids) > limit and rows:
            last = rows[-1][0]
            next_cursor = encode_cursor(str(sort), descending, _cursor_key(sort, last), last.id)
    return Page(tuple(views), next_cursor)


def count_findings(store: Store, filt: FindingFilter) -> int:
    """How many findings match ``filt``."""
    query = select(func.count()).select_from(StoredFinding)
    if _needs_asset(filt):  # an inner join on the (non-null) foreign key keeps every finding once
        query = query.join(Asset, Asset.id == StoredFinding.asset_id).outerjoin(
            Environment, Environment.id == Asset.environment_id
        )
    with store.session() as session:
        return int(session.scalar(_apply_filter(query, filt)) or 0)


# -- one finding -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExceptionView:
    """A stored exception (accepted risk) and whether it is in force."""

    id: int
    fingerprint: str
    rule_id: str
    package: str
    asset_id: int | None
    reason: str
    author: str
    created_at: str
    expires_at: str
    revoked_at: str
    revoked_by: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def exception_view(rule: ExceptionRule, now: dt.datetime | None = None) -> ExceptionView:
    """A view of one exception row with its state: active, expired or revoked."""
    now = now or utcnow()
    if rule.revoked_at is not None:
        state = "revoked"
    elif rule.expires_at is not None and rule.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return ExceptionView(
        id=rule.id,
        fingerprint=rule.fingerprint,
        rule_id=rule.rule_id,
        package=rule.package_name,
        asset_id=rule.asset_id,
        reason=rule.reason,
        author=rule.author,
        created_at=iso(rule.created_at),
        expires_at=iso(rule.expires_at),
        revoked_at=iso(rule.revoked_at),
        revoked_by=rule.revoked_by,
        state=state,
    )


def list_exceptions(store: Store, *, state: str = "") -> list[ExceptionView]:
    """Every exception, newest first; ``state`` (active, expired, revoked) filters."""
    with store.session() as session:
        rows = list(session.scalars(select(ExceptionRule).order_by(ExceptionRule.id.desc())))
        views = [exception_view(r) for r in rows]
    return [v for v in views if not state or v.state == state]


def get_exception(store: Store, exception_id: int) -> ExceptionView:
    """One exception; ``NotFoundError`` when there is none."""
    with store.session() as session:
        row = session.get(ExceptionRule, exception_id)
        if row is None:
            raise NotFoundError(f"no exception #{exception_id}")
        return exception_view(row)


def _covers(rule: ExceptionRule, asset_id: int, finding: Finding, package_name: str) -> bool:
    if rule.asset_id is not None and rule.asset_id != asset_id:
        return False
    if rule.fingerprint and rule.fingerprint != finding.fingerprint:
        return False
    if rule.rule_id and rule.rule_id != finding.rule_id and rule.rule_id not in finding.aliases:
        return False
    return not (rule.package_name and rule.package_name != package_name)


@dataclass(frozen=True, slots=True)
class FindingDetail:
    """One finding with everything an analyst asks about: evidence, fix, exceptions, VEX, where it came from."""

    view: FindingView
    message: str
    fix: str
    aliases: tuple[str, ...]
    references: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    location: dict[str, Any] | None
    layer: dict[str, Any] | None
    deleted_in: dict[str, Any] | None
    vuln: dict[str, Any] | None
    suppressions: tuple[dict[str, Any], ...]
    vex_status: str
    exceptions: tuple[ExceptionView, ...]
    first_scan_id: int | None
    last_scan_id: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["view"] = self.view.to_dict()
        return data


def _vex_status(finding: Finding) -> str:
    for suppression in finding.suppressions:
        if suppression.kind == "vex":
            statement = dict(suppression.statement)
            return statement.get("status", "") or "not_affected"
    return ""


def finding_detail(store: Store, finding_id: int) -> FindingDetail:
    """One stored finding in full; ``NotFoundError`` when there is none."""
    with store.session() as session:
        found = session.execute(_base_findings_query().where(StoredFinding.id == finding_id)).first()
        if found is None:
            raise NotFoundError(f"no finding #{finding_id}")
        row, owner, env = found
        finding = finding_from_json(row.data)
        rules = [
            r
            for r in session.scalars(select(ExceptionRule).order_by(ExceptionRule.id))
            if _covers(r, owner.id, finding, row.package_name)
        ]
        view = finding_view(row, owner, env)
        location = finding.location
        layer = location.layer if location else None
        return FindingDetail(
            view=view,
            message=finding.message,
            fix=finding.fix,
            aliases=finding.aliases,
            references=finding.references,
            evidence=tuple(
                {
                    "detector": e.detector,
                    "searched": e.searched,
                    "found": e.found,
                    "source": e.source,
                    "confidence": e.confidence,
                    "details": {k: v for k, v in e.details},
                }
                for e in finding.evidence
            ),
            location=(
                {"path": location.path, "line": location.line, "end_line": location.end_line} if location else None
            ),
            layer=_layer_dict(layer),
            deleted_in=_layer_dict(finding.deleted_in),
            vuln=asdict(finding.vuln) if finding.vuln else None,
            suppressions=tuple(
                {
                    "kind": s.kind,
                    "rule": s.rule,
                    "reason": s.reason,
                    "source": s.source,
                    "author": s.author,
                    "expires": s.expires,
                    "statement": {k: v for k, v in s.statement},
                }
                for s in finding.suppressions
            ),
            vex_status=_vex_status(finding),
            exceptions=tuple(exception_view(r) for r in rules),
            first_scan_id=row.first_scan_id,
            last_scan_id=row.last_scan_id,
        )


def _layer_dict(layer: Any) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {"index": layer.index, "digest": layer.digest, "created_by": layer.created_by, "size": layer.size}


def stored_finding(store: Store, finding_id: int) -> tuple[int, str, str, str]:
    """``(asset_id, fingerprint, rule_id, package)`` of a finding (what an exception from it selects)."""
    with store.session() as session:
        row = session.get(StoredFinding, finding_id)
        if row is None:
            raise NotFoundError(f"no finding #{finding_id}")
        return row.asset_id, row.fingerprint, row.rule_id, row.package_name


# -- assets, layers, inventory, scans -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagView:
    """A tag that points (``current``) or pointed at an asset."""

    repository: str
    tag: str
    manifest_digest: str
    current: bool
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class ScanView:
    """One recorded scan."""

    id: int
    asset_id: int
    target: str
    repository: str
    tag: str
    trigger: str
    actor: str
    recorded_at: str
    started_at: str
    finished_at: str
    tool_version: str
    verdict: str
    package_count: int
    finding_count: int
    warning_count: int
    severity: dict[str, int]
    kind: dict[str, int]
    not_evaluated: int = 0  # packages the vulnerability scanner could not evaluate (an opted-out database gap)
    warnings: list[dict[str, str]] = field(default_factory=list)  # the first warnings kept with the scan

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def scan_view(row: Scan) -> ScanView:
    """A view of one scan row, with its summary counts."""
    try:
        summary = json.loads(row.summary or "{}")
    except ValueError:
        summary = {}
    return ScanView(
        id=row.id,
        asset_id=row.asset_id,
        target=row.target,
        repository=row.repository,
        tag=row.tag,
        trigger=row.trigger,
        actor=row.actor,
        recorded_at=iso(row.recorded_at),
        started_at=row.started_at,
        finished_at=row.finished_at,
        tool_version=row.tool_version,
        verdict=row.verdict,
        package_count=row.package_count,
        finding_count=row.finding_count,
        warning_count=row.warning_count,
        severity={str(k): int(v) for k, v in (summary.get("severity") or {}).items()},
        kind={str(k): int(v) for k, v in (summary.get("kind") or {}).items()},
        not_evaluated=int((summary.get("not_evaluated") or {}).get("packages", 0)),
        warnings=stored_warnings(summary),
    )


def stored_warnings(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The warnings a scan's summary kept (``source``, ``message``, ``path``), well-formed ones only."""
    kept = summary.get("warnings")
    if not isinstance(kept, list):
        return []
    return [{key: str(w.get(key, "")) for key in ("source", "message", "path")} for w in kept if isinstance(w, dict)]


@dataclass(frozen=True, slots=True)
class AssetDetail:
    """An asset with its tags (current and past), OS, layers and scan history."""

    id: int
    kind: str
    identifier: str
    name: str
    repository: str
    environment: str
    golden: bool
    golden_reason: str
    active: bool
    platform: str
    labels: dict[str, str]
    os: dict[str, Any] | None
    first_seen: str
    last_seen: str
    packages: int
    open_findings: int
    findings_by_severity: dict[str, int]
    tags: tuple[TagView, ...]
    layers: tuple[dict[str, Any], ...]
    scans: tuple[ScanView, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def _asset(session: Session, asset_id: int) -> tuple[Asset, str]:
    found = session.execute(
        select(Asset, Environment.name)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
        .where(Asset.id == asset_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no asset #{asset_id}")
    return found[0], found[1] or ""


def asset_detail(store: Store, asset_id: int, *, scans: int = 20) -> AssetDetail:
    """One asset in full; ``NotFoundError`` when there is none."""
    with store.session() as session:
        asset, env = _asset(session, asset_id)
        tags = tuple(
            TagView(t.repository, t.tag, t.manifest_digest, t.current, iso(t.first_seen), iso(t.last_seen))
            for t in session.scalars(
                select(AssetTag).where(AssetTag.asset_id == asset_id).order_by(AssetTag.last_seen.desc())
            )
        )
        inventory = session.scalars(select(Inventory).where(Inventory.asset_id == asset_id)).first()
        history = tuple(
            scan_view(s)
            for s in session.scalars(
                select(Scan).where(Scan.asset_id == asset_id).order_by(Scan.id.desc()).limit(scans)
            )
        )
        by_severity = {
            str(sev): int(n)
            for sev, n in session.execute(
                select(StoredFinding.severity, func.count())
                .where(StoredFinding.asset_id == asset_id, StoredFinding.status.in_(ACTIVE))
                .group_by(StoredFinding.severity)
            ).all()
        }
        os_info = os_from_json(inventory.os_info) if inventory is not None else None
        labels: dict[str, str] = {}
        try:
            raw = json.loads(asset.labels or "{}")
            if isinstance(raw, dict):
                labels = {str(k): str(v) for k, v in raw.items()}
        except ValueError:
            labels = {}
        return AssetDetail(
            id=asset.id,
            kind=asset.kind,
            identifier=asset.identifier,
            name=asset.name,
            repository=asset.repository,
            environment=env,
            golden=asset.golden,
            golden_reason=asset.golden_reason,
            active=asset.active,
            platform=asset.platform,
            labels=labels,
            os=(
                {"family": os_info.family, "version": os_info.version, "pretty_name": os_info.pretty_name}
                if os_info
                else None
            ),
            first_seen=iso(asset.first_seen),
            last_seen=iso(asset.last_seen),
            packages=inventory.package_count if inventory is not None else 0,
            open_findings=sum(by_severity.values()),
            findings_by_severity=by_severity,
            tags=tags,
            layers=tuple(_layer_dict(x) or {} for x in layers_from_json(inventory.layers if inventory else "")),
            scans=history,
        )


@dataclass(frozen=True, slots=True)
class PackageView:
    """One inventory package and the layer that introduced it."""

    type: str
    name: str
    version: str
    purl: str
    path: str
    layer_index: int | None
    source_name: str
    licenses: tuple[str, ...]


def asset_packages(store: Store, asset_id: int, *, q: str = "", limit: int = 5000) -> list[PackageView]:
    """The asset's current inventory, by layer then name."""
    with store.session() as session:
        _asset(session, asset_id)
        query = (
            select(InventoryPackage)
            .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
            .where(Inventory.asset_id == asset_id)
        )
        if q.strip():
            query = query.where(func.lower(InventoryPackage.name).like(_like(q.strip()[:200]), escape="\\"))
        rows = session.scalars(
            query.order_by(InventoryPackage.layer_index, InventoryPackage.name, InventoryPackage.id).limit(limit)
        )
        return [
            PackageView(
                type=r.type,
                name=r.name,
                version=r.version,
                purl=r.purl,
                path=r.path,
                layer_index=r.layer_index,
                source_name=r.source_name,
                licenses=tuple(json.loads(r.licenses)) if r.licenses else (),
            )
            for r in rows
        ]


@dataclass(frozen=True, slots=True)
class LayerFinding:
    """A current finding attributed to a layer."""

    id: int
    rule_id: str
    severity: str
    kind: str
    title: str
    package: str
    path: str
    status: str
    deleted_in: int | None


@dataclass(frozen=True, slots=True)
class LayerView:
    """One layer: its instruction, the packages and the findings it introduced."""

    index: int
    digest: str
    created_by: str
    size: int
    packages: tuple[PackageView, ...]
    findings: tuple[LayerFinding, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def asset_layers(store: Store, asset_id: int) -> list[LayerView]:
    """Each layer of the asset with the packages and current findings it introduced (plus one for unattributed)."""
    packages = asset_packages(store, asset_id)
    with store.session() as session:
        _asset(session, asset_id)
        inventory = session.scalars(select(Inventory).where(Inventory.asset_id == asset_id)).first()
        layers = layers_from_json(inventory.layers if inventory else "")
        rows = list(
            session.scalars(
                select(StoredFinding)
                .where(
                    StoredFinding.asset_id == asset_id,
                    StoredFinding.status.in_([*ACTIVE, str(FindingStatus.SUPPRESSED)]),
                )
                .order_by(StoredFinding.id)
            )
        )
    found: dict[int | None, list[LayerFinding]] = {}
    for row in rows:
        finding = finding_from_json(row.data)
        layer = finding.location.layer if finding.location else None
        found.setdefault(layer.index if layer else None, []).append(
            LayerFinding(
                id=row.id,
                rule_id=row.rule_id,
                severity=row.severity,
                kind=row.kind,
                title=row.title,
                package=row.package_name,
                path=row.path,
                status=row.status,
                deleted_in=finding.deleted_in.index if finding.deleted_in else None,
            )
        )
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    for items in found.values():
        items.sort(key=lambda f: (rank.get(f.severity, 99), f.rule_id))
    by_layer: dict[int | None, list[PackageView]] = {}
    for package in packages:
        by_layer.setdefault(package.layer_index, []).append(package)
    known = {layer.index for layer in layers}
    views = [
        LayerView(
            layer.index,
            layer.digest,
            layer.created_by,
            layer.size,
            tuple(by_layer.get(layer.index, [])),
            tuple(found.get(layer.index, [])),
        )
        for layer in layers
    ]
    stray_packages = [p for key, items in by_layer.items() if key not in known for p in items]
    stray_findings = [f for key, items in found.items() if key not in known for f in items]
    if stray_packages or stray_findings:
        views.append(LayerView(-1, "", "(not attributed to a layer)", 0, tuple(stray_packages), tuple(stray_findings)))
    return views


def list_scans(store: Store, *, asset_id: int | None = None, limit: int = 50, before: int | None = None) -> Page:
    """Recorded scans, newest first; ``next_cursor`` is the ID to pass as ``before``."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Scan)
    if asset_id is not None:
        query = query.where(Scan.asset_id == asset_id)
    if before is not None:
        query = query.where(Scan.id < before)
    with store.session() as session:
        rows = list(session.scalars(query.order_by(Scan.id.desc()).limit(limit + 1)))
        views = tuple(scan_view(r) for r in rows[:limit])
    return Page(views, str(views[-1].id) if len(rows) > limit else "")


def scan_detail(store: Store, scan_id: int) -> tuple[ScanView, list[FindingView]]:
    """A scan and the stored findings it was the last to see (for an asset's latest scan: all it saw)."""
    with store.session() as session:
        row = session.get(Scan, scan_id)
        if row is None:
            raise NotFoundError(f"no scan #{scan_id}")
        view = scan_view(row)
        rows = session.execute(_base_findings_query().where(StoredFinding.last_scan_id == scan_id)).all()
        findings = [finding_view(r, owner, env) for r, owner, env in rows]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    findings.sort(key=lambda f: (rank.get(f.severity, 99), f.rule_id, f.id))
    return view, findings


def scan_drift(store: Store, asset_id: int) -> list[FindingView]:
    """The asset's drift findings (what changed when a tag moved to it), newest first."""
    page = page_findings(
        store,
        FindingFilter(kinds=(str(FindingKind.DRIFT),), asset_id=asset_id),
        sort=FindingSort.LAST_SEEN,
        limit=MAX_PAGE,
    )
    return list(page.items)


# -- the overview ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Open findings on one day, by severity."""

    day: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All severities."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class RematchHit:
    """An image a rematch found new findings on (an advisory published after it was scanned)."""

    at: str
    asset: str
    asset_id: int | None
    golden: bool
    new: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert of the outbox."""

    id: int
    channel: str
    event: str
    status: str
    attempts: int
    created_at: str
    sent_at: str
    severity: str
    rule_id: str
    asset: str
    last_error: str


@dataclass(frozen=True, slots=True)
class Overview:
    """The numbers of the dashboard's first page (and of ``GET /api/v1/overview``)."""

    assets: int
    assets_by_environment: dict[str, int]
    open_by_severity: dict[str, int]
    open_by_kind: dict[str, int]
    open_total: int
    suppressed: int
    trend: tuple[TrendPoint, ...]
    rematch: tuple[RematchHit, ...]
    alerts: tuple[AlertView, ...]
    alert_counts: dict[str, int]
    scans: int
    last_scan_at: str
    db: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["trend"] = [{"day": p.day, "counts": p.counts, "total": p.total} for p in self.trend]
        return data


_Group = tuple[str, str, str, dt.date | None, dt.date | None, int]
"""(status, severity, kind, day first seen, day fixed, count) of findings."""


def _lifecycle_groups(store: Store) -> list[_Group]:
    """Findings grouped by status, severity, kind, day first seen and day fixed, in one database pass.

    The cost grows with the number of distinct groups, not of findings; with
    ``ix_findings_lifecycle`` (migration 0012) PostgreSQL answers from the index alone.
    """
    seen_day, fixed_day = func.date(StoredFinding.first_seen), func.date(StoredFinding.fixed_at)
    with store.session() as session:
        rows = session.execute(
            select(
                StoredFinding.status, StoredFinding.severity, StoredFinding.kind, seen_day, fixed_day, func.count()
            ).group_by(StoredFinding.status, StoredFinding.severity, StoredFinding.kind, seen_day, fixed_day)
        ).all()
    return [
        (str(status), str(severity), str(kind), _day(seen), _day(fixed), int(count))
        for status, severity, kind, seen, fixed, count in rows
    ]


def _open_counts(groups: Sequence[_Group]) -> tuple[dict[str, int], dict[str, int]]:
    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    by_kind: Counter[str] = Counter()
    for status, severity, kind, _seen, _fixed, count in groups:
        if status in ACTIVE:
            by_severity[severity] = by_severity.get(severity, 0) + count
            by_kind[kind] += count
    return by_severity, dict(sorted(by_kind.items()))


def open_counts(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Open (open or reopened) findings by severity and by kind; every severity is present."""
    return _open_counts(_lifecycle_groups(store))


def trend(store: Store, days: int = 30, *, today: dt.date | None = None) -> tuple[TrendPoint, ...]:
    """Findings open at the end of each of the last ``days`` days, by severity.

    Reconstructed from the lifecycle columns: a finding counts on a day when
    it was first seen by then and not fixed (or no longer applicable) by then.
    Findings suppressed now are left out of every day (the store does not keep
    when a suppression began), so the last point equals today's open count.
    The database groups the rows (``_lifecycle_groups``), so the cost grows
    with the number of distinct days, not of findings.
    """
    return _trend(_lifecycle_groups(store), days, today=today)


def _trend(groups: Sequence[_Group], days: int, *, today: dt.date | None = None) -> tuple[TrendPoint, ...]:
    today = today or utcnow().date()
    days = max(1, min(days, 366))
    first_day = today - dt.timedelta(days=days - 1)
    kept: Counter[tuple[str, dt.date | None, dt.date | None]] = Counter()
    for status, severity, _kind, seen, fixed, count in groups:
        # suppressed now: out of every day; fixed before the first day: out of every day
        if status == str(FindingStatus.SUPPRESSED) or (fixed is not None and fixed < first_day):
            continue
        kept[(severity, seen, fixed)] += count
    points = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for (severity, seen, fixed), count in kept.items():
            if seen is not None and seen > day:
                continue
            if fixed is not None and fixed <= day:
                continue
            counts[severity] = counts.get(severity, 0) + count
        points.append(TrendPoint(day.isoformat(), counts))
    return tuple(points)


def _day(value: object) -> dt.date | None:
    """A ``date()`` result: a date (PostgreSQL) or its ISO text (SQLite)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def rematch_hits(store: Store, limit: int = 20) -> tuple[RematchHit, ...]:
    """Images recent rematches found new findings on (from the audit trail), newest first."""
    hits: list[RematchHit] = []
    with store.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == str(AuditAction.REMATCH))
            .order_by(AuditEvent.seq.desc())
            .limit(200)
        )
        identifiers: set[str] = set()
        pending: list[tuple[str, str, dict[str, Any]]] = []
        for event in events:
            try:
                details = json.loads(event.details)
            except ValueError:
                continue
            for item in details.get("assets") or []:
                if isinstance(item, dict) and item.get("new"):
                    pending.append((event.at, str(details.get("reason", "")), item))
                    identifiers.add(str(item.get("asset", "")))
            if len(pending) >= limit:
                break
        assets = {
            a.identifier: a for a in session.scalars(select(Asset).where(Asset.identifier.in_(sorted(identifiers))))
        }
        for at, reason, item in pending[:limit]:
            asset = assets.get(str(item.get("asset", "")))
            hits.append(
                RematchHit(
                    at=at[:19],
                    asset=str(item.get("asset", "")),
                    asset_id=asset.id if asset else None,
                    golden=asset.golden if asset else False,
                    new=tuple(str(x) for x in item.get("new") or ()),
                    reason=reason,
                )
            )
    return tuple(hits)


def recent_alerts(store: Store, limit: int = 10) -> tuple[AlertView, ...]:
    """The newest alerts of the outbox."""
    with store.session() as session:
        rows = list(session.scalars(select(OutboxAlert).order_by(OutboxAlert.id.desc()).limit(limit)))
    views = []
    for row in rows:
        try:
            payload = json.loads(row.payload)
        except ValueError:
            payload = {}
        doc = payload.get("document", payload) if isinstance(payload, dict) else {}
        finding = doc.get("finding", {}) if isinstance(doc, dict) else {}
        asset = doc.get("asset", {}) if isinstance(doc, dict) else {}
        views.append(
            AlertView(
                id=row.id,
                channel=row.channel,
                event=row.event,
                status=row.status,
                attempts=row.attempts,
                created_at=iso(row.created_at),
                sent_at=iso(row.sent_at),
                severity=str(finding.get("severity", "")) if isinstance(finding, dict) else "",
                rule_id=str(finding.get("rule_id", "")) if isinstance(finding, dict) else "",
                asset=str(asset.get("identifier", "")) if isinstance(asset, dict) else "",
                last_error=row.last_error[:300],
            )
        )
    return tuple(views)


def overview(store: Store, db: dict[str, Any] | None = None, *, days: int = 30) -> Overview:
    """Everything the overview page shows."""
    groups = _lifecycle_groups(store)
    by_severity, by_kind = _open_counts(groups)
    with store.session() as session:
        env_rows = session.execute(
            select(Environment.name, func.count())
            .select_from(Asset)
            .outerjoin(Environment, Environment.id == Asset.environment_id)
            .where(Asset.active.is_(True))
            .group_by(Environment.name)
        ).all()
        assets = int(session.scalar(select(func.count()).select_from(Asset).where(Asset.active.is_(True))) or 0)
        scans = int(session.scalar(select(func.count()).select_from(Scan)) or 0)
        last = session.scalar(select(func.max(Scan.recorded_at)))
        alert_counts = {
            str(s): int(n)
            for s, n in session.execute(select(OutboxAlert.status, func.count()).group_by(OutboxAlert.status)).all()
        }
    return Overview(
        assets=assets,
        assets_by_environment={(name or "(none)"): int(n) for name, n in sorted(env_rows, key=lambda r: r[0] or "")},
        open_by_severity=by_severity,
        open_by_kind=by_kind,
        open_total=sum(by_severity.values()),
        suppressed=sum(g[5] for g in groups if g[0] == str(FindingStatus.SUPPRESSED)),
        trend=_trend(groups, days),
        rematch=rematch_hits(store),
        alerts=recent_alerts(store),
        alert_counts=alert_counts,
        scans=scans,
        last_scan_at=iso(last) if isinstance(last, dt.datetime) else "",
        db=db or {},
    )


# -- the audit trail ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEventView:
    """One event of the trail."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    hash: str
    prev_hash: str
    signed: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def audit_page(store: Store, *, limit: int = 50, before: int | None = None, action: str = "", actor: str = "") -> Page:
    """Events newest first; ``next_cursor`` is the sequence number to pass as ``before``."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(AuditEvent)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    with store.session() as session:
        rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
        seqs = [r.seq for r in rows[:limit]]
        signed = (
            set(session.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.seq.in_(seqs)))) if seqs else set()
        )
        views = []
        for row in rows[:limit]:
            try:
                details = json.loads(row.details)
            except ValueError:
                details = {"raw": row.details}
            views.append(
                AuditEventView(
                    seq=row.seq,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    target=row.target,
                    details=details if isinstance(details, dict) else {"value": details},
                    hash=row.hash,
                    prev_hash=row.prev_hash,
                    signed=row.seq in signed,
                )
            )
    return Page(tuple(views), str(views[-1].seq) if len(rows) > limit else "")


def environments(store: Store) -> list[str]:
    """Names of every environment."""
    with store.session() as session:
        return sorted(str(n) for n in session.scalars(select(Environment.name)))


def asset_choices(store: Store) -> list[tuple[int, str]]:
    """``(id, label)`` of every asset, for pickers."""
    with store.session() as session:
        rows = session.execute(select(Asset.id, Asset.name, Asset.identifier).order_by(Asset.id)).all()
    return [(int(i), str(name or ident)) for i, name, ident in rows]


def severity_sorted(values: Sequence[str]) -> list[str]:
    """Severities from the most to the least severe."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(values, key=lambda s: rank.get(s, 99))
