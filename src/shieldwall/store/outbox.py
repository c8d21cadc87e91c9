"""The alert outbox: alerts are written to the store FIRST, in the transaction that found them, then sent.

Delivery protocol (see docs/notes/alerts.md):

1. ``enqueue`` inserts one ``pending`` row per (channel, alert) in the same
   transaction as the finding it reports, so an alert exists iff its finding
   does. ``(channel, dedupe_key)`` is unique: the same finding never produces
   a second alert on a channel, however often it is re-found.
2. ``claim`` marks a due row ``sending`` (committed) before anything leaves
   the process, and hands it to a sender.
3. After a successful send, ``mark_sent`` commits ``sent``; after a failure,
   ``mark_failed`` puts it back to ``pending`` with a backoff delay, or to
   ``dead`` after the last attempt.

A process that dies between 2 and 3 leaves a ``sending`` row; on restart it
is sent again with the SAME ``idempotency_key`` (HTTP header
``Idempotency-Key``, JSON field ``idempotency_key``, email ``Message-ID``),
which receivers dedupe on. So no alert is lost, and none is acted on twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.store.core import Store, utcnow
from shieldwall.store.schema import OutboxAlert, OutboxStatus


def dedupe_key(channel: str, event: str, asset_identifier: str, fingerprint: str) -> str:
    """The key that makes an alert unique on a channel: the event, the asset and the finding."""
    text = f"{channel}\x00{event}\x00{asset_identifier}\x00{fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(channel: str, key: str) -> str:
    """The key receivers dedupe on (stable across retries and restarts)."""
    return hashlib.sha256(f"shieldwall-alert\x00{channel}\x00{key}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    """A row claimed for sending: what to send, where, with which idempotency key."""

    id: int
    channel: str
    idempotency_key: str
    event: str
    payload: Mapping[str, Any]
    attempts: int


def enqueue(
    session: Session,
    channel: str,
    event: str,
    asset_identifier: str,
    fingerprint: str,
    payload: Mapping[str, Any],
    *,
    asset_id: int | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Add an alert inside ``session``; False when this alert already exists on the channel (deduplicated)."""
    key = dedupe_key(channel, event, asset_identifier, fingerprint)
    exists = session.scalars(
        select(OutboxAlert.id).where(OutboxAlert.channel == channel, OutboxAlert.dedupe_key == key)
    ).first()
    if exists is not None:
        return False
    when = now or utcnow()
    ikey = idempotency_key(channel, key)
    body = dict(payload)
    body["idempotency_key"] = ikey
    row = OutboxAlert(
        channel=channel[:128],
        dedupe_key=key,
        idempotency_key=ikey,
        asset_id=asset_id,
        fingerprint=fingerprint[:64],
        event=event[:32],
        payload=json.dumps(body, sort_keys=True, default=str),
        status=str(OutboxStatus.PENDING),
        attempts=0,
        next_attempt_at=when,
        created_at=when,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # a concurrent writer queued the same alert first
        return False
    return True


def recover_stale(store: Store, older_than: dt.timedelta = dt.timedelta(seconds=0)) -> int:
    """Put ``sending`` rows left by a dead process back to ``pending`` (sent again, same key). Returns count."""
    cutoff = utcnow() - older_than
    with store.session() as session:
        rows = list(
            session.scalars(
                select(OutboxAlert).where(
                    OutboxAlert.status == str(OutboxStatus.SENDING), OutboxAlert.claimed_at <= cutoff
                )
            )
        )
        for row in rows:
            row.status = str(OutboxStatus.PENDING)
            row.last_error = "process stopped while sending; resent with the same idempotency key"
        return len(rows)


def claim(store: Store, channels: Sequence[str], limit: int = 50) -> list[ClaimedAlert]:
    """Mark up to ``limit`` due alerts of ``channels`` as ``sending`` (committed) and return them."""
    now = utcnow()
    with store.session() as session:
        query = (
            select(OutboxAlert)
            .where(
                OutboxAlert.status == str(OutboxStatus.PENDING),
                OutboxAlert.next_attempt_at <= now,
                OutboxAlert.channel.in_(list(channels)),
            )
            .order_by(OutboxAlert.next_attempt_at, OutboxAlert.id)
            .limit(limit)
        )
        if store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for row in session.scalars(query):
            row.status = str(OutboxStatus.SENDING)
            row.claimed_at = now
            row.attempts += 1
            claimed.append(
                ClaimedAlert(row.id, row.channel, row.idempotency_key, row.event, json.loads(row.payload), row.attempts)
            )
        return claimed


def mark_sent(store: Store, alert_id: int) -> None:
    """Record a successful delivery."""
    with store.session() as session:
        mark_sent_in(session, alert_id)


def mark_sent_in(session: Session, alert_id: int) -> None:
    """Record a successful delivery inside ``session`` (with its audit event)."""
    row = session.get(OutboxAlert, alert_id)
    if row is not None:
        row.status = str(OutboxStatus.SENT)
        row.sent_at = utcnow()
        row.last_error = ""


def mark_failed(store: Store, alert_id: int, error: str, retry_in: dt.timedelta | None) -> None:
    """Record a failed attempt: back to ``pending`` after ``retry_in``, or ``dead`` when it is None."""
    with store.session() as session:
        row = session.get(OutboxAlert, alert_id)
        if row is None:
            return
        row.last_error = error[:2000]
        if retry_in is None:
            row.status = str(OutboxStatus.DEAD)
        else:
            row.status = str(OutboxStatus.PENDING)
            row.next_attempt_at = utcnow() + retry_in


def postpone(store: Store, alert_id: int, delay: dt.timedelta, reason: str) -> None:
    """Put a claimed alert back without counting an attempt (rate limited)."""
    with store.session() as session:
        row = session.get(OutboxAlert, alert_id)
        if row is None:
            return
        row.status = str(OutboxStatus.PENDING)
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = utcnow() + delay
        row.last_error = reason


def sent_since(store: Store, channel: str, since: dt.datetime) -> int:
    """Alerts delivered on ``channel`` since ``since`` (the rate limiter's memory survives restarts)."""
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxAlert)
                .where(OutboxAlert.channel == channel, OutboxAlert.sent_at >= since)
            )
            or 0
        )


def status_counts(store: Store) -> dict[str, int]:
    """How many outbox rows are in each status."""
    with store.session() as session:
        rows = session.execute(select(OutboxAlert.status, func.count()).group_by(OutboxAlert.status)).all()
    return {str(status): int(count) for status, count in rows}
