"""Agent event ingestion through the task queue: the batch is stored in the database first, a worker processes it.

With a broker configured (``SHIELDWALL_BROKER_URL``) the agent route does not
process events itself:

1. ``queue_batch`` stores the batch's new events as one ``agent_event_batches``
   row (PostgreSQL: durable once committed), keyed by a hash of the agent and
   its event keys, so the same batch delivered twice is one row. Events the
   store already has are answered as duplicates.
2. Only then it publishes an ``agent.ingest`` task naming the row. When the
   broker cannot take it, the agent gets 503 and keeps the batch in its spool;
   its retry publishes again (the row is already there). The answer "accepted"
   therefore means: stored durably and queued.
3. ``process_batch`` (the task) inserts the events in ``agent_events`` and marks
   the row ``stored`` in one transaction, then runs the module handlers while
   holding the row's lock, then marks it ``done``. A second delivery of the task
   waits on the lock and finds ``done``. A worker killed during the handlers
   leaves the row ``stored``: the redelivered task runs the handlers again on
   the events that batch stored, and each alert is claimed once
   (``effects.claim_effect``), file-event labels are rewritten to the same
   value, IPS events are unique per key and drift findings follow their
   fingerprints.
4. A task lost in the broker (Redis restarted without its append-only file,
   or a dead-lettered run) cannot lose events: ``requeue_stale`` (run by the
   agent route at most every ``REQUEUE_EVERY`` seconds) publishes a batch that
   is not ``done`` after ``STALE_AFTER`` seconds again, waiting twice as long
   each time. A ``queued`` batch is re-queued for ever (its events exist only
   in the row); a ``stored`` one (events safe, handlers never finished: a
   poison handler) becomes ``dead`` with its error after ``MAX_REQUEUES``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shieldwall.agent.events import AgentEvent
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.service.dispatch import TaskDispatch
from shieldwall.service.fleet.ingest import (
    IngestResult,
    ModuleHandler,
    builtin_handlers,
    record_seen,
    run_handlers,
    store_events,
)
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import AgentEventBatch, AgentEventRow

log = logging.getLogger(__name__)

TASK = "agent.ingest"
STALE_AFTER = 120.0
REQUEUE_EVERY = 30.0
MAX_REQUEUES = 5
MAX_WAIT = 3600.0
MAX_ERROR = 4000


class QueueUnavailable(ShieldwallError):
    """The batch is stored but no task could be published: the agent should retry (its retry publishes)."""


def batch_id(agent_id: int, keys: Sequence[str]) -> str:
    """The row ID of a batch: the same agent sending the same new events names the same row."""
    material = json.dumps([agent_id, sorted(set(keys))], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def queue_batch(
    store: Store,
    dispatch: TaskDispatch,
    agent_id: int,
    events: Sequence[AgentEvent],
    *,
    dropped: Mapping[str, int] | None = None,
) -> IngestResult:
    """Store the batch's new events durably, then publish its task (``QueueUnavailable`` when that fails)."""
    keyed = [e.with_key() for e in events]
    unique: dict[str, AgentEvent] = {}
    for event in keyed:
        unique.setdefault(event.key, event)
    now = utcnow()
    with store.session() as session:
        known = (
            set(
                session.scalars(
                    select(AgentEventRow.key).where(
                        AgentEventRow.agent_id == agent_id, AgentEventRow.key.in_(list(unique))
                    )
                )
            )
            if unique
            else set()
        )
        new = [event for key, event in unique.items() if key not in known]
        duplicates = [e.key for e in keyed if unique.get(e.key) is not e] + [k for k in unique if k in known]
        record_seen(session, agent_id, dropped, now)
        ident = batch_id(agent_id, [e.key for e in new]) if new else ""
        if new and session.get(AgentEventBatch, ident) is None:
            row = AgentEventBatch(
                id=ident,
                agent_id=agent_id,
                status="queued",
                events=json.dumps([e.to_wire() for e in new], sort_keys=True, default=str),
                accepted="[]",
                error="",
                requeued=0,
                received_at=now,
                updated_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:  # the same batch, delivered twice at once: the other request stored it
                pass
    if new:
        _publish(dispatch, ident)
    return IngestResult(tuple(e.key for e in new), tuple(duplicates))


def _publish(dispatch: TaskDispatch, ident: str) -> str:
    try:
        return dispatch.submit(TASK, {"batch": ident}, f"ingest:{ident}")
    except ShieldwallError as exc:
        log.warning("agent batch %s… stored but not queued: %s", ident[:12], exc)
        raise QueueUnavailable(f"events stored but the task queue is unavailable; retry later ({exc})") from exc


def process_batch(store: Store, ident: str, handlers: Mapping[str, ModuleHandler] | None = None) -> dict[str, Any]:
    """Insert a queued batch's events and run the module handlers on them, once (see the module docstring)."""
    with store.session() as session:
        row = session.scalars(select(AgentEventBatch).where(AgentEventBatch.id == ident).with_for_update()).first()
        if row is None:
            raise InputError(f"no queued agent batch {ident[:16]!r}")
        agent_id = row.agent_id
        if row.status in ("done", "dead"):
            return {"batch": ident, "status": row.status, "duplicate": True}
        if row.status == "queued":
            events = [AgentEvent.from_wire(item) for item in json.loads(row.events)]
            accepted, _ = store_events(session, agent_id, events, utcnow())
            row.accepted = json.dumps([e.to_wire() for e in accepted], sort_keys=True, default=str)
            row.status = "stored"
            row.updated_at = utcnow()
    # PostgreSQL: the handlers run while this transaction holds the row, so a second delivery waits, then finds
    # it done. SQLite allows one writer at a time (the handlers write): no lock held there, alerts stay once.
    hold = store.engine.dialect.name == "postgresql"
    chosen = handlers if handlers is not None else builtin_handlers()
    with store.session() as session:
        query = select(AgentEventBatch).where(AgentEventBatch.id == ident)
        row = session.scalars(query.with_for_update() if hold else query).first()
        if row is None or row.status != "stored":
            return {"batch": ident, "status": row.status if row else "gone", "duplicate": True}
        accepted = [AgentEvent.from_wire(item) for item in json.loads(row.accepted)]
        if hold:
            errors = run_handlers(store, agent_id, accepted, chosen)
            _finish(row, errors)
    if not hold:
        errors = run_handlers(store, agent_id, accepted, chosen)
        with store.session() as session:
            row = session.get(AgentEventBatch, ident)
            if row is not None:
                _finish(row, errors)
    return {"batch": ident, "status": "done", "stored": len(accepted), "handler_errors": errors}


def _finish(row: AgentEventBatch, errors: Mapping[str, str]) -> None:
    row.status = "done"
    row.error = json.dumps(dict(errors), sort_keys=True)[:MAX_ERROR] if errors else ""
    row.events = "[]"  # the events now live in agent_events
    row.updated_at = utcnow()


def requeue_stale(store: Store, dispatch: TaskDispatch, *, stale_after: float = STALE_AFTER, limit: int = 100) -> int:
    """Publish again the batches not done ``stale_after`` seconds after their last step; how many.

    The wait doubles with each re-queue (capped at an hour). A batch whose events are
    stored but whose handlers never finished (``stored``) is marked ``dead`` after
    ``MAX_REQUEUES``; a ``queued`` one, whose events exist only in the row, is
    re-queued for ever: its events are never given up.
    """
    now = utcnow()
    with store.session() as session:
        rows = session.scalars(
            select(AgentEventBatch)
            .where(
                AgentEventBatch.status.in_(("queued", "stored")),
                AgentEventBatch.updated_at < now - dt.timedelta(seconds=stale_after),
            )
            .order_by(AgentEventBatch.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        due: list[str] = []
        for row in rows:
            wait = min(stale_after * 2 ** min(row.requeued, 16), MAX_WAIT)
            if row.updated_at > now - dt.timedelta(seconds=wait):
                continue
            if row.status == "stored" and row.requeued >= MAX_REQUEUES:
                row.status = "dead"
                row.error = f"handlers never finished after {row.requeued} re-queued tasks (events are stored)"
                log.error("agent batch %s… dead-lettered: %s", row.id[:12], row.error)
            else:
                row.requeued += 1
                due.append(row.id)
            row.updated_at = now
    published = 0
    for ident in due:
        try:
            dispatch.submit(TASK, {"batch": ident}, f"ingest:{ident}")
            published += 1
        except ShieldwallError as exc:  # still unavailable: a later pass tries again
            log.warning("re-queueing agent batch %s… failed: %s", ident[:12], exc)
    return published


class Requeuer:
    """Runs ``requeue_stale`` at most every ``every`` seconds, from whichever request comes by."""

    def __init__(self, every: float = REQUEUE_EVERY, stale_after: float = STALE_AFTER) -> None:
        self.every = every
        self.stale_after = stale_after
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_run(self, store: Store, dispatch: TaskDispatch) -> int:
        """Re-queue stale batches when it is time (errors are logged: ingestion goes on)."""
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return 0
            self._next = now + self.every
        try:
            return requeue_stale(store, dispatch, stale_after=self.stale_after)
        except Exception as exc:  # a failed pass must not fail the agent's upload; the next pass retries
            log.warning("re-queueing stale agent batches failed: %s", exc)
            return 0


def pending_batches(store: Store) -> dict[str, int]:
    """Batches per status (for the benchmark and the operator)."""
    from sqlalchemy import func

    with store.session() as session:
        return {
            str(status): int(count)
            for status, count in session.execute(
                select(AgentEventBatch.status, func.count()).group_by(AgentEventBatch.status)
            )
        }
