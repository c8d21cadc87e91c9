"""Fleet endpoints on a real server: roles, validation and size limits, agents confined to their own data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.api_server import ApiServer, api_settings, tokens
from shieldwall.agent.client import ManagerClient, ManagerError
from shieldwall.agent.signing import load_or_create_key
from shieldwall.api.tokens import Role
from shieldwall.store import Store


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    api = ApiServer.start(store, api_settings(tmp_path / "data", tmp_path / "cache"), dashboard=False)
    api.tokens = tokens(store)
    try:
        yield api
    finally:
        api.stop()
        store.close()


def _agent(server: ApiServer, tmp_path: Path, name: str, token: str) -> ManagerClient:
    client = ManagerClient(server.url, load_or_create_key(tmp_path / f"{name}.key"))
    client.enroll(token, name, {"os": "Linux"})
    return client


def test_roles_and_errors(server: ApiServer, tmp_path: Path) -> None:
    viewer, admin = server.client(Role.VIEWER), server.client(Role.ADMIN)
    doc = {"modules": {"inventory": {"interval_seconds": 60}}}
    assert viewer.post("/api/v1/policies", json={"name": "p", "document": doc}).status_code == 403
    assert viewer.post("/api/v1/enrollment-tokens", json={"name": "t"}).status_code == 403
    assert viewer.get("/api/v1/enrollment-tokens").status_code == 403
    assert admin.post("/api/v1/policies", json={"name": "p", "document": doc}).status_code == 201
    assert admin.post("/api/v1/policies", json={"name": "p", "document": doc}).status_code == 409
    assert admin.post("/api/v1/policies", json={"name": "q", "document": {"modules": []}}).status_code == 400
    assert admin.post("/api/v1/policies", json={"name": "q", "document": {"other": {}}}).status_code == 400
    assert admin.put("/api/v1/policies/nope", json={"document": doc}).status_code == 404
    assert admin.post("/api/v1/enrollment-tokens", json={"name": "t", "policy": "nope"}).status_code == 404
    assert viewer.get("/api/v1/agents/agt_" + "0" * 24).status_code == 404
    assert viewer.get("/api/v1/agents/not-an-id").status_code == 422
    assert viewer.get("/api/v1/agent-events", params={"cursor": "garbage"}).status_code == 400
    assert httpx.get(server.url + "/api/v1/agents").status_code == 401
    revoked = admin.post("/api/v1/enrollment-tokens", json={"name": "r"}).json()
    assert admin.post(f"/api/v1/enrollment-tokens/{revoked['record']['id']}/revoke").json()["status"] == "revoked"
    with pytest.raises(ManagerError) as refused:
        ManagerClient(server.url, load_or_create_key(tmp_path / "r.key")).enroll(revoked["token"], "h", {})
    assert refused.value.status == 401


def test_agent_requests_are_validated_and_bounded(server: ApiServer, tmp_path: Path) -> None:
    admin = server.client(Role.ADMIN)
    token = admin.post("/api/v1/enrollment-tokens", json={"name": "t", "max_uses": 2}).json()["token"]
    agent = _agent(server, tmp_path, "a", token)
    event = {
        "key": "k" * 32,
        "module": "fim",
        "kind": "fim.modified",
        "severity": "HIGH",
        "summary": "s",
        "attributes": {},
        "observed_at": "2026-12-01T00:00:00+00:00",
    }
    assert agent.signed("POST", "/api/v1/agent/events", {"events": [event], "dropped": {}})["accepted"] == ["k" * 32]
    assert agent.signed("POST", "/api/v1/agent/events", {"events": [event]})["duplicates"] == ["k" * 32]
    for bad in (
        {**event, "attributes": {"x": "y" * 70_000}},  # over the attribute size limit
        {**event, "module": "../etc"},
        {**event, "severity": "SEVERE"},
        {**event, "key": "short"},
        {**event, "extra": 1},
    ):
        with pytest.raises(ManagerError) as refused:
            agent.signed("POST", "/api/v1/agent/events", {"events": [bad]})
        assert refused.value.status == 422
    with pytest.raises(ManagerError) as too_many:
        agent.signed("POST", "/api/v1/agent/events", {"events": [event] * 501})
    assert too_many.value.status in (413, 422)
    with pytest.raises(ManagerError) as huge:
        agent.signed("POST", "/api/v1/agent/events", {"events": [], "pad": "x" * 2_000_000})
    assert huge.value.status == 413
    unsigned = httpx.post(
        server.url + "/api/v1/agent/heartbeat", json={"version": "1", "uptime_seconds": 1, "spool_depth": 0}
    )
    assert unsigned.status_code == 401


def test_an_agent_sees_only_its_own_data(server: ApiServer, tmp_path: Path) -> None:
    admin = server.client(Role.ADMIN)
    admin.post("/api/v1/policies", json={"name": "a", "document": {"modules": {"x": {"n": 1}}}})
    admin.post("/api/v1/policies", json={"name": "b", "document": {"modules": {"x": {"n": 2}}}})
    token_a = admin.post("/api/v1/enrollment-tokens", json={"name": "a", "policy": "a"}).json()["token"]
    token_b = admin.post("/api/v1/enrollment-tokens", json={"name": "b", "policy": "b"}).json()["token"]
    first, second = _agent(server, tmp_path, "one", token_a), _agent(server, tmp_path, "two", token_b)
    assert first.signed("GET", "/api/v1/agent/policy")["document"] == {"modules": {"x": {"n": 1}}}
    assert second.signed("GET", "/api/v1/agent/policy")["document"] == {"modules": {"x": {"n": 2}}}
    current = first.signed("GET", "/api/v1/agent/policy")["revision"]
    waited = first.signed("GET", "/api/v1/agent/policy", params={"known": current, "wait": 1})
    assert waited["revision"] == current, "a long-poll with no change answers the same revision at its deadline"
    event = {
        "key": "same-key-for-both",
        "module": "m",
        "kind": "m.k",
        "severity": "LOW",
        "summary": "s",
        "observed_at": "2026-12-01T00:00:00+00:00",
    }
    assert first.signed("POST", "/api/v1/agent/events", {"events": [event]})["accepted"] == ["same-key-for-both"]
    assert second.signed("POST", "/api/v1/agent/events", {"events": [event]})["accepted"] == ["same-key-for-both"]
    page = admin.get("/api/v1/agent-events", params={"agent": first.agent_id}).json()
    assert [e["agent"] for e in page["items"]] == [first.agent_id]
    # Heartbeat state lands on the sender's row only.
    hb = {"version": "9", "uptime_seconds": 1, "spool_depth": 3, "modules": {}, "dropped": {"m": 2}}
    first.signed("POST", "/api/v1/agent/heartbeat", hb)
    one = admin.get(f"/api/v1/agents/{first.agent_id}").json()
    two = admin.get(f"/api/v1/agents/{second.agent_id}").json()
    assert (one["version"], one["dropped_total"], two["version"], two["dropped_total"]) == ("9", 2, "", 0)
    assert json.dumps(one).count(second.agent_id) == 0
    # Key rotation through the API: the old key stops working.
    old_key = first.key
    new_key = load_or_create_key(tmp_path / "one-new.key")
    first.signed("POST", "/api/v1/agent/rotate-key", {"public_key": new_key.public_text})
    first.key = new_key
    first.signed("POST", "/api/v1/agent/heartbeat", hb)
    first.key = old_key
    with pytest.raises(ManagerError) as refused:
        first.signed("POST", "/api/v1/agent/heartbeat", hb)
    assert refused.value.status == 401


def test_agent_core_enrolls_rotates_its_key_and_keeps_working(server: ApiServer, tmp_path: Path) -> None:
    from shieldwall.agent.core import Agent, AgentConfig

    admin = server.client(Role.ADMIN)
    token = admin.post("/api/v1/enrollment-tokens", json={"name": "core"}).json()["token"]
    agent = Agent(AgentConfig(manager_url=server.url, state_dir=tmp_path / "state", token=token, modules=[]))
    try:
        agent.enroll_if_needed()
        agent.heartbeat()
        old_public = agent.key.public_text
        agent.rotate_key()
        assert agent.key.public_text != old_public
        assert (tmp_path / "state" / "agent.key").stat().st_mode & 0o777 == 0o600
        agent.heartbeat()  # signed with the new key
        detail = admin.get(f"/api/v1/agents/{agent.client.agent_id}").json()
        assert detail["status"] == "online" and detail["key"] != ""
        events = admin.get("/api/v1/audit/events", params={"action": "agent.key_rotated"}).json()["items"]
        assert [e["target"] for e in events] == [f"agent:{agent.client.agent_id}"]
    finally:
        agent.shutdown()


def test_the_manager_alerts_on_a_silent_agent_without_any_traffic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper thread of the running server queues one agent-silent alert in the outbox."""
    import time

    from sqlalchemy import select

    from shieldwall.service.monitor import CONFIG_SETTING
    from shieldwall.store.schema import OutboxAlert

    monkeypatch.setenv("SHIELDWALL_AGENT_ONLINE_SECONDS", "1")
    monkeypatch.setenv("SHIELDWALL_AGENT_SWEEP_SECONDS", "0.2")
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    store.put_setting(
        CONFIG_SETTING, {"alerts": {"channels": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/x"}]}}
    )
    api = ApiServer.start(store, api_settings(tmp_path / "data", tmp_path / "cache"), dashboard=False)
    api.tokens = tokens(store)
    try:
        token = api.client(Role.ADMIN).post("/api/v1/enrollment-tokens", json={"name": "t"}).json()["token"]
        agent = _agent(api, tmp_path, "quiet", token)
        agent.signed("POST", "/api/v1/agent/heartbeat", {"version": "1", "uptime_seconds": 1, "spool_depth": 0})

        def alerts() -> list[OutboxAlert]:
            with store.session() as session:
                return list(session.scalars(select(OutboxAlert).where(OutboxAlert.event == "agent-silent")))

        deadline = time.monotonic() + 60
        while not alerts() and time.monotonic() < deadline:
            time.sleep(0.2)
        rows = alerts()
        assert len(rows) == 1 and json.loads(rows[0].payload)["agent"] == agent.agent_id
        assert api.client(Role.VIEWER).get(f"/api/v1/agents/{agent.agent_id}").json()["status"] == "offline"
        time.sleep(1.0)
        assert len(alerts()) == 1, "one alert per silent period"
    finally:
        api.stop()
        store.close()
