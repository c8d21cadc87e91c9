"""Nothing lost, nothing twice: a killed manager, a killed agent and cut connections.

The counter test module logs each event's key after ``emit`` returned; at the
end the manager must hold exactly those keys, each once (asserted by key
and by row count), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers.agent_fleet import (
    CuttableProxy,
    Manager,
    build_root,
    emitted_keys,
    start_agent,
    stop_process,
    wait_for,
)
from shieldwall.service.fleet.policy import create_policy
from shieldwall.service.fleet.tokens import create_token
from shieldwall.store import Store
from shieldwall.store.schema import Agent, AgentEventRow

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEADLINE = 240.0


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Iterator[tuple[Manager, Store]]:
    """A manager process and a store handle on its database."""
    home = tmp_path / "manager"
    home.mkdir()
    store = Store.open(database_url, audit_key_path=home / "audit-key.pem")
    server = Manager(database_url, home).start()
    try:
        yield server, store
    finally:
        server.stop()
        store.close()


def _agent_id(state: Path) -> str:
    path = state / "agent.json"
    return str(json.loads(path.read_text())["agent_id"]) if path.exists() else ""


def _rows(store: Store, uid: str) -> tuple[int, set[str]]:
    with store.session() as session:
        agent = session.scalars(select(Agent).where(Agent.uid == uid)).one()
        count = session.scalar(
            select(func.count()).select_from(AgentEventRow).where(AgentEventRow.agent_id == agent.id)
        )
        keys = set(session.scalars(select(AgentEventRow.key).where(AgentEventRow.agent_id == agent.id)))
    return int(count or 0), keys


def _assert_exactly_once(store: Store, uid: str, state: Path, total: int) -> None:
    emitted = emitted_keys(state)
    assert len(emitted) == total and len(set(emitted)) == total, "the module emitted every number once"
    count, keys = _rows(store, uid)
    assert keys == set(emitted)
    assert count == total


def _setup(store: Store, total: int, per_tick: int) -> str:
    create_policy(store, "burst", {"modules": {"counter": {"per_tick": per_tick, "total": total}}})
    return create_token(store, name="t", policy="burst", max_uses=5).token


def test_manager_killed_mid_upload_and_connections_cut(fleet: tuple[Manager, Store], tmp_path: Path) -> None:
    server, store = fleet
    total = 2500
    token = _setup(store, total, per_tick=25)
    proxy = CuttableProxy(server.port)
    state = tmp_path / "state"
    agent = start_agent(proxy.url, build_root(tmp_path / "root"), state, token=token, tag="m")
    try:
        wait_for(lambda: bool(_agent_id(state)), DEADLINE, "enrolled")
        uid = _agent_id(state)
        wait_for(lambda: _rows(store, uid)[0] >= 300, DEADLINE, "uploads flowing")
        # Answers lost after the manager stored the batch: the agent retries, the manager dedupes.
        proxy.cutting = True
        wait_for(lambda: proxy.cuts >= 5, DEADLINE, "connections cut")
        proxy.cutting = False
        before = _rows(store, uid)[0]
        wait_for(lambda: _rows(store, uid)[0] > before, DEADLINE, "uploads flowing again")
        # The manager dies without a clean shutdown while uploads are in flight, then comes back.
        server.kill()
        time.sleep(1.0)
        server.start()
        wait_for(lambda: len(emitted_keys(state)) == total, DEADLINE, "module done emitting")
        wait_for(lambda: _rows(store, uid)[0] >= total, DEADLINE, "every event uploaded")
        time.sleep(1.0)  # any late duplicate retry would land now (and must be a no-op)
        _assert_exactly_once(store, uid, state, total)
        assert proxy.cuts >= 5
    finally:
        stop_process(agent)
        proxy.close()


def test_agent_killed_mid_spool_write(fleet: tuple[Manager, Store], tmp_path: Path) -> None:
    server, store = fleet
    total = 3000
    token = _setup(store, total, per_tick=40)
    state, root = tmp_path / "state", build_root(tmp_path / "root")
    agent = start_agent(server.url, root, state, token=token, tag="k")
    kills = 0
    try:
        wait_for(lambda: bool(_agent_id(state)), DEADLINE, "enrolled")
        uid = _agent_id(state)
        for threshold in (400, 1200):
            wait_for(lambda t=threshold: len(emitted_keys(state)) >= t, DEADLINE, "emitting")  # type: ignore[misc]
            agent.send_signal(signal.SIGKILL)
            agent.wait(30)
            kills += 1
            agent = start_agent(server.url, root, state, tag="k")  # no token: the identity is in the state dir
        wait_for(lambda: len(emitted_keys(state)) == total, DEADLINE, "module done emitting")
        wait_for(lambda: _rows(store, uid)[0] >= total, DEADLINE, "every event uploaded")
        time.sleep(1.0)
        _assert_exactly_once(store, uid, state, total)
        assert kills == 2
    finally:
        stop_process(agent)
