"""Who decided what: exceptions and scan-time statements (VEX, exception files) with owner, reason and expiry.

Two kinds of decision set findings aside. *Exceptions* live in the store
(``exceptions`` table, made with the API, the CLI or the dashboard); each has
an author, a reason and an optional expiry. *Statements* came with a scan: a
VEX document or an exception file (``.shieldwallignore.yaml``) matched the
finding, and the finding keeps the statement (kind, rule, source, author,
reason, expiry) in its stored data. Statements are grouped by what they say
and counted by the findings and assets they cover.

Both are sorted into *expiring* (within the chosen number of days), *expired*
and *open-ended* (no expiry). The database extracts the statements from the
stored data of suppressed findings and groups them by statement list and
asset (PostgreSQL ``jsonb``, SQLite ``json_extract``); at most
``MAX_STATEMENT_ROWS`` groups are read and a cut is reported
(``statements_truncated``), never silently dropped. The audit trail's
verification (run alongside the queries) comes with the decisions: a broken
chain is reported as broken.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB

from shieldwall.api.queries import ExceptionView, exception_view
from shieldwall.store import Store
from shieldwall.store.audit import VerifyReport, verify
from shieldwall.store.core import utcnow
from shieldwall.store.schema import AuditEvent, ExceptionRule, FindingStatus, StoredFinding

MAX_STATEMENT_ROWS = 100_000  # (statement list, asset) groups read; past it the counts are a lower bound
DECISION_ACTIONS = (
    "exception.added",
    "exception.revoked",
    "policy.changed",
    "config.changed",
    "token.created",
    "token.revoked",
    "scan.verdict",
)


@dataclass(frozen=True, slots=True)
class ExceptionDecision:
    """A stored exception, how many findings it sets aside now, and when it ends."""

    exception: ExceptionView
    suppressing: int
    days_left: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {**self.exception.to_dict(), "suppressing": self.suppressing, "days_left": self.days_left}


@dataclass(frozen=True, slots=True)
class Statement:
    """A scan-time suppression (VEX statement, exception-file rule), grouped over the findings it covers."""

    kind: str
    rule: str
    source: str
    author: str
    reason: str
    expires: str
    status: str
    findings: int
    assets: int
    state: str
    days_left: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One audit event that records a decision."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """The audit chain's verification, as shown next to the decisions."""

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    last_signed_seq: int
    unsigned_events: int
    broken_seq: int | None
    problem: str
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decisions:
    """Everything the "who decided what" page and ``GET /api/v1/decisions`` show."""

    within_days: int
    exceptions: tuple[ExceptionDecision, ...]
    expiring: tuple[ExceptionDecision, ...]
    expired: tuple[ExceptionDecision, ...]
    open_ended: tuple[ExceptionDecision, ...]
    statements: tuple[Statement, ...]
    statements_truncated: bool
    events: tuple[DecisionEvent, ...]
    audit: AuditStatus
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "within_days": self.within_days,
            "counts": dict(self.counts),
            "exceptions": [e.to_dict() for e in self.exceptions],
            "expiring": [e.exception.id for e in self.expiring],
            "expired": [e.exception.id for e in self.expired],
            "open_ended": [e.exception.id for e in self.open_ended],
            "statements": [s.to_dict() for s in self.statements],
            "statements_truncated": self.statements_truncated,
            "events": [asdict(e) for e in self.events],
            "audit": asdict(self.audit),
        }


def _days_left(expires: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if expires is None else round((expires - now).total_seconds() / 86400, 1)


def _parse_expiry(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = dt.datetime.combine(dt.date.fromisoformat(text[:10]), dt.time(23, 59, 59))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _state(expires: dt.datetime | None, now: dt.datetime, within: int, raw: str = "") -> str:
    if expires is None:
        return "unreadable-expiry" if raw.strip() else "open-ended"
    if expires <= now:
        return "expired"
    if expires <= now + dt.timedelta(days=within):
        return "expiring"
    return "active"


def _exceptions(store: Store, now: dt.datetime) -> list[ExceptionDecision]:
    with store.session() as session:
        rules = list(session.scalars(select(ExceptionRule).order_by(ExceptionRule.id.desc())))
        counts = dict(
            session.execute(
                select(StoredFinding.suppressed_by, func.count())
                .where(
                    StoredFinding.status == str(FindingStatus.SUPPRESSED),
                    StoredFinding.suppressed_by.like("exception #%"),
                )
                .group_by(StoredFinding.suppressed_by)
            ).all()
        )
        by_id: dict[int, int] = {}
        for by, n in counts.items():
            number = str(by).removeprefix("exception #").split(" ", 1)[0]
            if number.isdigit():
                by_id[int(number)] = by_id.get(int(number), 0) + int(n)
        return [
            ExceptionDecision(exception_view(r, now), by_id.get(r.id, 0), _days_left(r.expires_at, now)) for r in rules
        ]


def _suppression_columns(dialect: str) -> tuple[Any, Any]:
    """The stored finding's ``suppressions`` (JSON text) and ``suppressed`` (comment text), read by the database."""
    if dialect == "postgresql":
        doc = cast(StoredFinding.data, JSONB)
        return cast(doc["suppressions"], Text), doc["suppressed"].astext
    return func.json_extract(StoredFinding.data, "$.suppressions"), func.json_extract(
        StoredFinding.data, "$.suppressed"
    )


def _items(suppressions: Any, comment: Any) -> list[dict[str, Any]]:
    try:
        items = json.loads(suppressions) if isinstance(suppressions, str) else suppressions
    except ValueError:
        items = None
    found = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if not found and comment:
        found = [{"kind": "comment", "rule": "in-file comment", "reason": str(comment)}]
    return found


def _statements(store: Store, now: dt.datetime, within: int) -> tuple[list[Statement], bool]:
    """Statements grouped by the database first (by statement list and asset), then by what each statement says."""
    groups: dict[tuple[str, ...], tuple[int, set[int]]] = {}
    with store.session() as session:
        suppressions, comment = _suppression_columns(session.get_bind().dialect.name)
        rows = session.execute(
            select(suppressions, comment, StoredFinding.asset_id, func.count())
            .where(
                StoredFinding.status == str(FindingStatus.SUPPRESSED),
                StoredFinding.suppressed_by.not_like("exception #%"),
            )
            .group_by(suppressions, comment, StoredFinding.asset_id)
            .limit(MAX_STATEMENT_ROWS + 1)
        ).all()
    truncated = len(rows) > MAX_STATEMENT_ROWS
    for listed, text, asset_id, number in rows[:MAX_STATEMENT_ROWS]:
        for item in _items(listed, text):
            statement = item.get("statement") or []
            extra = dict(statement) if isinstance(statement, list) else dict(statement or {})
            fields = ("kind", "rule", "source", "author", "reason", "expires")
            key = (*(str(item.get(k, "")) for k in fields), str(extra.get("status", "")))
            count, assets = groups.get(key, (0, set()))
            assets.add(int(asset_id))
            groups[key] = (count + int(number), assets)
    statements: list[Statement] = []
    for key, (count, assets) in groups.items():
        kind, rule, source, author, reason, expires, status = key
        end = _parse_expiry(expires)
        statements.append(
            Statement(
                kind=kind,
                rule=rule,
                source=source,
                author=author,
                reason=reason,
                expires=expires,
                status=status or ("not_affected" if kind == "vex" else ""),
                findings=count,
                assets=len(assets),
                state=_state(end, now, within, expires),
                days_left=_days_left(end, now),
            )
        )
    statements.sort(key=lambda s: (s.days_left is None, s.days_left or 0.0, -s.findings, s.rule))
    return statements, truncated


def _events(store: Store, limit: int) -> list[DecisionEvent]:
    with store.session() as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(DECISION_ACTIONS))
                .order_by(AuditEvent.seq.desc())
                .limit(limit)
            )
        )
    events = []
    for row in rows:
        try:
            details = json.loads(row.details)
        except ValueError:
            details = {"raw": row.details}
        events.append(
            DecisionEvent(
                row.seq,
                row.at,
                row.actor,
                row.action,
                row.target,
                details if isinstance(details, dict) else {"value": details},
            )
        )
    return events


def audit_status(report: VerifyReport) -> AuditStatus:
    """The verification report as plain values (a broken chain keeps its first break)."""
    return AuditStatus(
        ok=report.ok,
        events=report.events,
        checkpoints=report.checkpoints,
        head_seq=report.head_seq,
        last_signed_seq=report.last_signed_seq,
        unsigned_events=report.unsigned_events,
        broken_seq=report.broken.seq if report.broken else None,
        problem=report.broken.problem if report.broken else "",
        notes=tuple(report.notes),
    )


def decisions(store: Store, *, within_days: int = 30, events: int = 50, now: dt.datetime | None = None) -> Decisions:
    """Exceptions and statements sorted by when they end, recent decision events, and the audit verification."""
    now = now or utcnow()
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="shieldwall-decisions") as pool:
        verifying = pool.submit(verify, store)  # the chain walk and the two scans of suppressed findings overlap
        reading = pool.submit(_statements, store, now, within_days)
        counting = pool.submit(_exceptions, store, now)
        events_found = _events(store, events)
        exceptions = counting.result()
        statements, truncated = reading.result()
        status = audit_status(verifying.result())
    live = [e for e in exceptions if e.exception.state == "active"]
    horizon = now + dt.timedelta(days=within_days)
    expiring = [
        e for e in live if e.exception.expires_at and dt.datetime.fromisoformat(e.exception.expires_at) <= horizon
    ]
    expiring.sort(key=lambda e: e.exception.expires_at)
    expired = [e for e in exceptions if e.exception.state == "expired"]
    open_ended = [e for e in live if not e.exception.expires_at]
    counts = {
        "exceptions_active": len(live),
        "exceptions_expiring": len(expiring),
        "exceptions_expired": len(expired),
        "exceptions_open_ended": len(open_ended),
        "exceptions_revoked": sum(e.exception.state == "revoked" for e in exceptions),
        "statements": len(statements),
        "statements_expiring": sum(s.state == "expiring" for s in statements),
        "statements_expired": sum(s.state == "expired" for s in statements),
        "suppressed_by_exceptions": sum(e.suppressing for e in exceptions),
        "suppressed_by_statements": sum(s.findings for s in statements),
    }
    return Decisions(
        within_days=within_days,
        exceptions=tuple(exceptions),
        expiring=tuple(expiring),
        expired=tuple(expired),
        open_ended=tuple(open_ended),
        statements=tuple(statements),
        statements_truncated=truncated,
        events=tuple(events_found),
        audit=status,
        counts=counts,
    )
