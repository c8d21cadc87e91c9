"""Agent event ingestion as a task: a real API server, redis-server, PostgreSQL and worker processes.

Each batch's events end in ``agent_events`` once and alert once, whether the
agent delivered the batch twice (two tasks for one batch, on two workers) or
the worker processing it was SIGKILLed after one module's handler committed
its alerts and while the next one waited on a table lock.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from helpers.api_server import ApiServer, api_settings, tokens
from helpers.scale_cluster import Cluster, wait_for
from shieldwall.agent.client import ManagerClient
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.signing import load_or_create_key
from shieldwall.api.tokens import Role
from shieldwall.model import Severity
from shieldwall.store.schema import AgentEventBatch, AgentEventRow, AuditEvent, TaskRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def manager(cluster: Cluster, tmp_path: Path) -> Iterator[ApiServer]:
    """The API server over the cluster's store; SHIELDWALL_BROKER_URL is set, so batches are queued."""
    store = cluster.store()
    api = ApiServer.start(store, api_settings(tmp_path / "api-data", tmp_path / "api-cache"), dashboard=False)
    api.tokens = tokens(store)
    try:
        yield api
    finally:
        api.stop()
        store.close()


def _agent(manager: ApiServer, tmp_path: Path) -> ManagerClient:
    with manager.client(Role.ADMIN) as admin:
        token = admin.post("/api/v1/enrollment-tokens", json={"name": "t", "environment": "prod"}).json()["token"]
    client = ManagerClient(manager.url, load_or_create_key(tmp_path / "agent.key"))
    client.enroll(token, "web-1", {"os": "Linux"})
    return client


def _batch(logs: int, files: int) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    events = [
        AgentEvent("logs", "logs.alert", Severity.HIGH, f"brute force {i}", {"rule": i}, now) for i in range(logs)
    ]
    events += [
        AgentEvent("fim", "fim.modified", Severity.HIGH, "changed", {"path": f"/etc/f{i}"}, now) for i in range(files)
    ]
    return [e.to_wire() for e in events]


def _count(cluster: Cluster, model: Any, *where: Any) -> int:
    with cluster.store() as store, store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _statuses(cluster: Cluster) -> list[str]:
    with cluster.store() as store, store.session() as session:
        return sorted(session.scalars(select(AgentEventBatch.status)))


def _runs(cluster: Cluster) -> list[TaskRun]:
    with cluster.store() as store, store.session() as session:
        return list(session.scalars(select(TaskRun).where(TaskRun.name == "agent.ingest")))


def _alerts(cluster: Cluster) -> int:
    return _count(cluster, AuditEvent, AuditEvent.action == "agent.alert")


def _per_key(cluster: Cluster) -> dict[str, int]:
    with cluster.store() as store, store.session() as session:
        rows = session.execute(select(AgentEventRow.key, func.count()).group_by(AgentEventRow.key))
        return {key: int(n) for key, n in rows}


def test_a_batch_delivered_twice_is_processed_once_by_two_workers(
    cluster: Cluster, manager: ApiServer, tmp_path: Path
) -> None:
    agent = _agent(manager, tmp_path)
    events = _batch(logs=4, files=3)
    keys = sorted(e["key"] for e in events)
    first = agent.signed("POST", "/api/v1/agent/events", {"events": events, "dropped": {}})
    again = agent.signed("POST", "/api/v1/agent/events", {"events": events, "dropped": {}})  # the answer was lost
    assert sorted(first["accepted"]) == keys and sorted(again["accepted"]) == keys  # stored and queued, both times
    assert _count(cluster, AgentEventRow) == 0  # the API process did not process them
    assert _statuses(cluster) == ["queued"]
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    wait_for(
        lambda: _statuses(cluster) == ["done"] and [r.status for r in _runs(cluster)] == ["succeeded"] * 2,
        "both tasks of the batch",
        detail=cluster.logs,
    )
    assert _per_key(cluster) == dict.fromkeys(keys, 1)
    assert _alerts(cluster) == 7  # four log alerts and three unexpected file changes, each once
    later = agent.signed("POST", "/api/v1/agent/events", {"events": events, "dropped": {}})
    assert later["accepted"] == [] and sorted(later["duplicates"]) == keys
    assert len(_runs(cluster)) == 2  # nothing new queued
    agent.close()


def test_a_worker_killed_mid_batch_leaves_every_event_and_alert_once(
    cluster: Cluster, manager: ApiServer, tmp_path: Path
) -> None:
    agent = _agent(manager, tmp_path)
    events = _batch(logs=3, files=2)  # log events first: their handler runs (and commits) before the file handler
    keys = sorted(e["key"] for e in events)
    first = cluster.start_worker("w1")
    warm_up = [AgentEvent("logs", "logs.alert", Severity.HIGH, "warm-up", {"warm": 1}).to_wire()]
    agent.signed("POST", "/api/v1/agent/events", {"events": warm_up})  # the worker opens its store (migrations)
    wait_for(lambda: _statuses(cluster) == ["done"], "the warm-up batch", detail=cluster.logs)
    engine = sa.create_engine(cluster.database)
    blocker = engine.connect()
    try:
        # the file handler reads the change windows: hold that table so the worker stops inside the handler
        transaction = blocker.begin()
        blocker.execute(sa.text("LOCK TABLE fim_change_windows IN ACCESS EXCLUSIVE MODE"))
        assert sorted(agent.signed("POST", "/api/v1/agent/events", {"events": events})["accepted"]) == keys

        def waiting_in_the_file_handler() -> bool:
            waiting = blocker.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar()
            return bool(waiting) and _statuses(cluster) == ["done", "stored"] and _alerts(cluster) == 1 + 3

        wait_for(waiting_in_the_file_handler, "the worker blocked in the file handler", detail=cluster.logs)
        [run] = [r for r in _runs(cluster) if r.status != "succeeded"]
        assert run.status == "running" and run.worker.endswith(f":{first.pid}")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        transaction.rollback()
    finally:
        blocker.close()
        engine.dispose()
    cluster.start_worker("w2")
    wait_for(lambda: _statuses(cluster) == ["done", "done"], "the redelivered batch", detail=cluster.logs)
    run = next(r for r in _runs(cluster) if r.id == run.id)
    assert run.status == "succeeded" and run.attempts == 2 and not run.worker.endswith(f":{first.pid}")
    counts = _per_key(cluster)
    assert len(counts) == len(keys) + 1 and all(counts[key] == 1 for key in keys)
    assert _alerts(cluster) == 1 + 5  # the three log alerts committed before the kill were not raised again
    agent.close()
