"""Agent batches through the task queue (``service/fleet/queued.py``), on SQLite and PostgreSQL.

The broker is replaced by a list of published tasks here (the real Redis and
workers are in tests/integration/scale/test_ingest_on_workers.py): what is
checked is the store side: stored before published, one row per batch, events
and alerts once however often the batch is delivered or its processing dies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.signing import load_or_create_key
from shieldwall.errors import ShieldwallError
from shieldwall.model import Severity
from shieldwall.service.fleet import queued
from shieldwall.service.fleet.enroll import enroll
from shieldwall.service.fleet.handlers import BUILTIN, handle_logs
from shieldwall.service.fleet.tokens import create_token
from shieldwall.store import Store
from shieldwall.store.schema import AgentEventBatch, AgentEventRow, AuditEvent


class Published:
    """Records the tasks a route would publish; ``down`` makes publishing fail like an unreachable broker."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, dict[str, Any], str]] = []
        self.down = False

    def submit(self, name: str, payload: Mapping[str, Any], key: str = "") -> str:
        if self.down:
            raise ShieldwallError("cannot queue task: connection refused")
        self.tasks.append((name, dict(payload), key))
        return f"task-{len(self.tasks)}"


class Killed(BaseException):
    """Stands for the worker dying mid-handler (not an Exception: nothing catches it)."""


def _agent(store: Store, tmp_path: Path) -> int:
    key = load_or_create_key(tmp_path / "agent.key")
    return enroll(store, create_token(store, name="t", environment="prod").token, key.public_text, "web-1", {}).id


def _events(now: dt.datetime) -> list[AgentEvent]:
    logs = [AgentEvent("logs", "logs.alert", Severity.HIGH, f"ssh brute force {i}", {"rule": i}, now) for i in range(3)]
    fim = [AgentEvent("fim", "fim.modified", Severity.HIGH, "changed", {"path": f"/etc/f{i}"}, now) for i in range(2)]
    return logs + fim


def _count(store: Store, model: Any, *where: Any) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _alerts(store: Store) -> int:
    return _count(store, AuditEvent, AuditEvent.action == "agent.alert")


def test_a_batch_is_stored_then_published_and_processed_once(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)
    events = _events(dt.datetime.now(dt.UTC))
    queue = Published()
    first = queued.queue_batch(store, queue, agent_id, events, dropped={"fim": 2})
    again = queued.queue_batch(store, queue, agent_id, events)  # delivered twice before any worker ran
    assert sorted(first.accepted) == sorted(e.with_key().key for e in events)
    assert again.accepted == first.accepted
    assert _count(store, AgentEventBatch) == 1  # the same batch is one row
    assert _count(store, AgentEventRow) == 0  # nothing processed in the route
    assert [name for name, _, _ in queue.tasks] == ["agent.ingest", "agent.ingest"]
    [ident] = {payload["batch"] for _, payload, _ in queue.tasks}
    done = queued.process_batch(store, ident)
    assert done["status"] == "done" and done["stored"] == 5
    assert queued.process_batch(store, ident)["duplicate"] is True  # the second task
    assert _count(store, AgentEventRow) == 5
    assert _alerts(store) == 5  # three log alerts, two unexpected file changes
    after = queued.queue_batch(store, queue, agent_id, events)  # the agent retries after processing
    assert after.accepted == () and sorted(after.duplicates) == sorted(first.accepted)
    assert len(queue.tasks) == 2  # nothing new to queue


def test_unreachable_broker_answers_retry_and_the_retry_publishes(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)
    events = _events(dt.datetime.now(dt.UTC))
    queue = Published()
    queue.down = True
    with pytest.raises(queued.QueueUnavailable):
        queued.queue_batch(store, queue, agent_id, events)
    assert _count(store, AgentEventBatch, AgentEventBatch.status == "queued") == 1  # stored all the same
    queue.down = False
    queued.queue_batch(store, queue, agent_id, events)
    assert len(queue.tasks) == 1
    queued.process_batch(store, queue.tasks[0][1]["batch"])
    assert _count(store, AgentEventRow) == 5


def test_processing_killed_after_one_handler_alerts_once_when_run_again(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)
    queue = Published()
    queued.queue_batch(store, queue, agent_id, _events(dt.datetime.now(dt.UTC)))
    ident = queue.tasks[0][1]["batch"]

    def dies(_store: Store, _agent_id: int, _events: Sequence[AgentEvent]) -> None:
        raise Killed

    with pytest.raises(Killed):  # the log alerts are committed, then the worker dies in the file handler
        queued.process_batch(store, ident, {"logs": handle_logs, "fim": dies})
    assert _alerts(store) == 3
    with store.session() as session:
        assert session.get(AgentEventBatch, ident).status == "stored"  # type: ignore[union-attr]
    assert queued.process_batch(store, ident, BUILTIN)["status"] == "done"  # the redelivered task
    assert _count(store, AgentEventRow) == 5
    assert _alerts(store) == 5  # three log alerts (not six) and two file alerts


def test_lost_tasks_are_published_again_and_stored_events_never_given_up(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)
    queue = Published()
    queued.queue_batch(store, queue, agent_id, _events(dt.datetime.now(dt.UTC)))
    ident = queue.tasks[0][1]["batch"]
    assert queued.requeue_stale(store, queue, stale_after=60) == 0  # not stale yet
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    for _ in range(queued.MAX_REQUEUES + 2):
        with store.session() as session:
            session.execute(update(AgentEventBatch).values(updated_at=long_ago))
        assert queued.requeue_stale(store, queue, stale_after=60) == 1  # queued: its events exist only here
    assert [payload["batch"] for _, payload, _ in queue.tasks[1:]] == [ident] * (queued.MAX_REQUEUES + 2)
    with store.session() as session:  # a batch whose events are stored but whose handlers never finish
        session.execute(update(AgentEventBatch).values(status="stored", updated_at=long_ago))
    assert queued.requeue_stale(store, queue, stale_after=60) == 0
    with store.session() as session:
        row = session.get(AgentEventBatch, ident)
        assert row is not None and row.status == "dead" and "handlers never finished" in row.error


def test_migration_0011_creates_exactly_the_schema_tables(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shieldwall.store.schema import Base

    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "agent_event_batches" in repr(d) or "agent_event_effects" in repr(d)] == []
