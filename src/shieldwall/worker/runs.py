"""Task runs in the store: attempts per task, the outcome, and the dead-letter state.

``begin`` counts a delivery before the handler runs, in its own transaction,
so a worker that dies mid-task (SIGKILL, out of memory, a crashing parser)
still leaves the count behind: the next delivery sees it, and after
``max_attempts`` the task is dead-lettered instead of run again. Dead
letters keep the task's name, payload (secrets are never in payloads) and
last error, and are listed by ``shieldwall worker dead-letters`` and
``GET /api/v1/tasks/dead-letters``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import TaskRun

MAX_ERROR = 4000
MAX_PAYLOAD = 16_000


class RunStatus(StrEnum):
    """Where a task run is."""

    RUNNING = "running"
    BUSY = "busy"  # another worker is alive on it (never stored: what ``begin`` answers)
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Attempt:
    """A delivery as ``begin`` saw it."""

    attempts: int
    status: RunStatus
    result: dict[str, Any]
    error: str


def begin(
    store: Store,
    task_id: str,
    name: str,
    key: str,
    payload: Mapping[str, Any],
    worker: str,
    stale_after: float = 30.0,
) -> Attempt:
    """Count one delivery of ``task_id`` (row locked, so two deliveries count twice, never once).

    A run whose worker still beats (``heartbeat`` within ``stale_after`` seconds) is ``BUSY``: the
    broker handed out a second copy while the first is alive (its visibility timeout ran out); that
    copy is neither counted nor run.
    """
    now = utcnow()
    with store.session() as session:
        row = session.scalars(select(TaskRun).where(TaskRun.id == task_id).with_for_update()).first()
        if row is None:
            row = TaskRun(
                id=task_id,
                name=name[:64],
                idempotency_key=key[:256],
                status=RunStatus.RUNNING.value,
                attempts=0,
                payload=json.dumps(dict(payload), sort_keys=True, default=str)[:MAX_PAYLOAD],
                result="",
                error="",
                worker="",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        if row.status in (RunStatus.SUCCEEDED.value, RunStatus.DEAD.value):
            return Attempt(row.attempts, RunStatus(row.status), json.loads(row.result or "{}"), row.error)
        if (
            row.status == RunStatus.RUNNING.value
            and row.attempts
            and (now - row.updated_at).total_seconds() < stale_after
        ):
            return Attempt(row.attempts, RunStatus.BUSY, {}, row.error)
        row.attempts += 1
        row.status = RunStatus.RUNNING.value
        row.worker = worker[:256]
        row.updated_at = now
        return Attempt(row.attempts, RunStatus.RUNNING, {}, row.error)


def heartbeat(store: Store, task_id: str) -> None:
    """Say that the worker running ``task_id`` is alive."""
    with store.session() as session:
        row = session.get(TaskRun, task_id)
        if row is not None and row.status == RunStatus.RUNNING.value:
            row.updated_at = utcnow()


def finish(
    store: Store, task_id: str, status: RunStatus, *, result: Mapping[str, Any] | None = None, error: str = ""
) -> None:
    """Record how a delivery ended."""
    with store.session() as session:
        row = session.get(TaskRun, task_id)
        if row is None:
            return
        row.status = status.value
        if result is not None:
            row.result = json.dumps(dict(result), sort_keys=True, default=str)[:MAX_PAYLOAD]
        if error:
            row.error = error[:MAX_ERROR]
        row.updated_at = utcnow()


def uncount(store: Store, task_id: str) -> None:
    """Give back a delivery that failed for a reason outside the task (the database was down)."""
    with store.session() as session:
        row = session.get(TaskRun, task_id)
        if row is not None and row.attempts > 0:
            row.attempts -= 1
            row.status = RunStatus.RETRYING.value


def dead_letters(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """The newest dead-lettered tasks with their error."""
    with store.session() as session:
        rows = session.scalars(
            select(TaskRun)
            .where(TaskRun.status == RunStatus.DEAD.value)
            .order_by(TaskRun.updated_at.desc())
            .limit(max(1, min(limit, 1000)))
        ).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "idempotency_key": r.idempotency_key,
                "attempts": r.attempts,
                "error": r.error,
                "payload": json.loads(r.payload or "{}"),
                "worker": r.worker,
                "updated_at": r.updated_at.isoformat(timespec="seconds"),
            }
            for r in rows
        ]


def run_counts(store: Store) -> dict[str, int]:
    """Task runs per status."""
    from sqlalchemy import func

    with store.session() as session:
        return {
            str(status): int(count)
            for status, count in session.execute(select(TaskRun.status, func.count()).group_by(TaskRun.status))
        }
