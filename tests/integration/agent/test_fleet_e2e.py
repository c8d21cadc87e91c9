"""End to end: a manager process, several agent processes, each with its own root and state directory.

Enrollment with a scoped token, policy versions applied atomically (a refused
version leaves the previous one running), events arriving exactly once,
heartbeats with module states, revocation, and signed requests that cannot
be replayed or altered.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from helpers.agent_fleet import Manager, build_root, emitted_keys, start_agent, stop_process, wait_for
from shieldwall.agent.signing import load_key
from shieldwall.alert.config import AlertSettings, ChannelConfig
from shieldwall.api.tokens import Role, create_token
from shieldwall.service.fleet.status import StatusThresholds, sweep_silent
from shieldwall.service.fleet.views import event_keys
from shieldwall.store import Store
from shieldwall.store.schema import Agent, AgentEventRow, AuditEvent, OutboxAlert

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEADLINE = 180.0


@pytest.fixture
def manager(database_url: str, tmp_path: Path) -> Iterator[tuple[Manager, Store, httpx.Client]]:
    """A running manager, a store handle on its database and an admin API client."""
    home = tmp_path / "manager"
    home.mkdir()
    store = Store.open(database_url, audit_key_path=home / "audit-key.pem")
    admin = create_token(store, "fleet-admin", Role.ADMIN, actor="tests").token
    server = Manager(database_url, home).start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
    try:
        yield server, store, client
    finally:
        client.close()
        server.stop()
        store.close()


def agent_id(state: Path) -> str:
    """The ID an agent saved after enrolling ('' before)."""
    path = state / "agent.json"
    return str(json.loads(path.read_text())["agent_id"]) if path.exists() else ""


def stored_count(store: Store, uid: str) -> int:
    """How many event rows the manager holds for an agent."""
    with store.session() as session:
        return int(
            session.scalar(select(func.count()).select_from(AgentEventRow).join(Agent).where(Agent.uid == uid)) or 0
        )


def test_fleet_enroll_policy_events_revoke(manager: tuple[Manager, Store, httpx.Client], tmp_path: Path) -> None:
    server, store, api = manager
    policy = api.post(
        "/api/v1/policies",
        json={"name": "web", "document": {"modules": {"counter": {"per_tick": 5, "total": 120}}}},
    )
    assert policy.status_code == 201, policy.text
    first_revision = policy.json()["revision"]
    created = api.post(
        "/api/v1/enrollment-tokens",
        json={"name": "web hosts", "environment": "prod", "policy": "web", "max_uses": 3, "ttl_hours": 1},
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert created.json()["record"]["status"] == "active"
    assert token not in json.dumps(api.get("/api/v1/enrollment-tokens").json())

    procs: list[subprocess.Popen[bytes]] = []
    states = []
    try:
        for n in range(3):
            root = build_root(tmp_path / f"root{n}")
            state = tmp_path / f"state{n}"
            states.append(state)
            procs.append(
                start_agent(server.url, root, state, token=token, tag=f"a{n}", extra=["--hostname", f"web-{n}"])
            )
        wait_for(lambda: all(agent_id(s) for s in states), DEADLINE, "agents enrolled")
        uids = [agent_id(s) for s in states]
        wait_for(lambda: all(stored_count(store, u) == 120 for u in uids), DEADLINE, "first 120 events of each agent")
        for uid, state in zip(uids, states, strict=True):
            assert set(event_keys(store, uid)) == set(emitted_keys(state))
            assert all(k.startswith(f"counter-a{states.index(state)}-") for k in event_keys(store, uid))

        # A fourth enrollment with the 3-use token is refused: the agent exits with an error.
        extra = start_agent(server.url, build_root(tmp_path / "root3"), tmp_path / "state3", token=token, tag="a3")
        assert extra.wait(120) == 2
        assert "used up" in (tmp_path / "state3-agent.log").read_text()

        # Heartbeats: every agent online, policy applied, module states reported.
        def applied(revision: int) -> bool:
            agents = api.get("/api/v1/agents").json()
            return len(agents) == 3 and all(a["applied_revision"] == revision for a in agents)

        wait_for(lambda: applied(first_revision), DEADLINE, "policy applied everywhere")
        listing = api.get("/api/v1/agents", params={"environment": "prod"}).json()
        assert {a["hostname"] for a in listing} == {"web-0", "web-1", "web-2"}
        assert {a["status"] for a in listing} == {"online"}
        detail = api.get(f"/api/v1/agents/{uids[0]}").json()
        assert detail["state"]["modules"]["counter"]["status"] == "running"
        assert detail["state"]["modules"]["counter"]["counters"]["emitted"] == 120
        assert detail["state"]["rss_bytes"] > 0

        # A version one module refuses: nothing changes, the refusal is reported.
        refused = api.put("/api/v1/policies/web", json={"document": {"modules": {"counter": {"refuse": True}}}})
        assert refused.status_code == 200 and refused.json()["version"] == 2
        wait_for(
            lambda: all(
                "refused by counter" in api.get(f"/api/v1/agents/{u}").json()["state"]["policy_error"] for u in uids
            ),
            DEADLINE,
            "refusal reported",
        )
        assert applied(first_revision)
        # A good version: more events flow.
        good = api.put(
            "/api/v1/policies/web", json={"document": {"modules": {"counter": {"per_tick": 5, "total": 150}}}}
        )
        wait_for(lambda: applied(good.json()["revision"]), DEADLINE, "version 3 applied")
        wait_for(lambda: all(stored_count(store, u) == 150 for u in uids), DEADLINE, "150 events each")
        versions = api.get("/api/v1/policies/web/versions").json()
        assert [v["version"] for v in versions] == [3, 2, 1]

        # Events API: filters and cursor pages cover each stored event exactly once.
        seen: list[str] = []
        cursor = ""
        while True:
            page = api.get("/api/v1/agent-events", params={"agent": uids[1], "limit": 40, "cursor": cursor}).json()
            seen += [e["key"] for e in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(event_keys(store, uids[1])) and len(seen) == 150
        high = api.get("/api/v1/agent-events", params={"agent": uids[1], "severity": "HIGH", "limit": 500}).json()
        assert len(high["items"]) == 50 and {e["severity"] for e in high["items"]} == {"HIGH"}

        # Replay and alteration of a real agent's signed request.
        key = load_key(states[1] / "agent.key")
        body = json.dumps({"events": [], "dropped": {}}).encode()
        headers = key.sign_headers(uids[1], "POST", "/api/v1/agent/events", body)
        raw = httpx.Client(base_url=server.url, timeout=30)
        first = raw.post("/api/v1/agent/events", content=body, headers={**headers, "Content-Type": "application/json"})
        assert first.status_code == 200, first.text
        again = raw.post("/api/v1/agent/events", content=body, headers={**headers, "Content-Type": "application/json"})
        assert again.status_code == 401 and "replayed" in again.text
        fresh = key.sign_headers(uids[1], "POST", "/api/v1/agent/events", body)
        altered = json.dumps({"events": [], "dropped": {"counter": 99}}).encode()  # valid, but not what was signed
        tampered = raw.post(
            "/api/v1/agent/events", content=altered, headers={**fresh, "Content-Type": "application/json"}
        )
        assert tampered.status_code == 401 and "bad signature" in tampered.text
        # Agent 1 cannot pass as agent 0 with its own key.
        spoof = key.sign_headers(uids[0], "POST", "/api/v1/agent/events", body)
        assert raw.post("/api/v1/agent/events", content=body, headers=spoof).status_code == 401

        # Revoke agent 2: its signed requests are refused from now on.
        assert api.post(f"/api/v1/agents/{uids[2]}/revoke").json()["status"] == "revoked"
        key2 = load_key(states[2] / "agent.key")
        late = key2.sign_headers(uids[2], "POST", "/api/v1/agent/events", body)
        refused_revoked = raw.post("/api/v1/agent/events", content=body, headers=late)
        assert refused_revoked.status_code == 401 and "revoked" in refused_revoked.text
        raw.close()

        # A clean stop (SIGTERM) exits 0; the silent agent goes offline and raises one alert.
        assert stop_process(procs[0]) == 0
        wait_for(lambda: api.get(f"/api/v1/agents/{uids[0]}").json()["status"] == "offline", DEADLINE, "offline")
        alerts = AlertSettings(channels=(ChannelConfig(name="ops", type="webhook", url="http://127.0.0.1:9/x"),))
        silent = sweep_silent(store, alerts, thresholds=StatusThresholds(online_seconds=5))
        assert uids[0] in silent and uids[2] not in silent
        assert sweep_silent(store, alerts, thresholds=StatusThresholds(online_seconds=5)) == []
        with store.session() as session:
            rows = list(session.scalars(select(OutboxAlert).where(OutboxAlert.event == "agent-silent")))
            assert [json.loads(r.payload)["agent"] for r in rows].count(uids[0]) == 1
            actions = set(session.scalars(select(AuditEvent.action)))
        assert {
            "agent.enrolled",
            "agent.revoked",
            "agent_policy.created",
            "agent_policy.updated",
            "agent_token.created",
        } <= actions
    finally:
        for proc in procs:
            stop_process(proc)


def test_host_inventory_findings_through_real_agents(
    manager: tuple[Manager, Store, httpx.Client], tmp_path: Path
) -> None:
    """The inventory module on a small Debian root: the host is an asset with findings; an upgrade fixes them."""
    from helpers.agent_fleet import DEBIAN_STATUS
    from helpers.store_data import CRITICAL_VECTOR, osv
    from shieldwall.vulndb.model import SourceInfo
    from shieldwall.vulndb.store import VulnDB

    server, _store, api = manager
    db_path = server.home / "data" / "vulndb" / "vulndb.sqlite"
    with VulnDB.build(db_path) as writer:
        writer.replace_source(
            SourceInfo("test"),
            [
                osv(
                    "DSA-9999-1",
                    "Debian:12",
                    "openssl",
                    "3.0.13-1~deb12u1",
                    cvss=CRITICAL_VECTOR,
                    aliases=("CVE-2099-1",),
                )
            ],
        )
    api.post("/api/v1/policies", json={"name": "inv", "document": {"modules": {"inventory": {"interval_seconds": 5}}}})
    token = api.post("/api/v1/enrollment-tokens", json={"name": "inv", "policy": "inv"}).json()["token"]
    root = build_root(tmp_path / "root")
    state = tmp_path / "state"
    proc = start_agent(server.url, root, state, token=token, modules="inventory", extra=["--hostname", "db-1"])
    try:
        wait_for(lambda: bool(agent_id(state)), DEADLINE, "enrolled")
        uid = agent_id(state)
        wait_for(lambda: api.get(f"/api/v1/agents/{uid}").json()["findings"] == {"CRITICAL": 2}, DEADLINE, "findings")
        detail = api.get(f"/api/v1/agents/{uid}").json()
        asset_id = detail["asset_id"]
        findings = api.get("/api/v1/findings", params={"asset_id": asset_id, "status": "active"}).json()["items"]
        assert sorted(f["package"] for f in findings) == ["libssl3", "openssl"]
        assert {f["rule_id"] for f in findings} == {"CVE-2099-1"}
        inventory = api.get(f"/api/v1/agents/{uid}/inventory").json()
        assert {p["name"] for p in inventory["packages"]} >= {"openssl", "libssl3", "zlib1g"}
        assert inventory["inventory"]["os"]["version"] == "12"
        assert api.get(f"/api/v1/assets/{asset_id}").json()["kind"] == "host"

        (root / "var" / "lib" / "dpkg" / "status").write_text(
            DEBIAN_STATUS.replace("3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
        )
        wait_for(lambda: api.get(f"/api/v1/agents/{uid}").json()["findings"] == {}, DEADLINE, "fixed by the upgrade")
        events = api.get("/api/v1/agent-events", params={"agent": uid, "kind": "inventory.package_changed"}).json()
        assert {e["attributes"]["name"] for e in events["items"]} == {"openssl", "libssl3"}
    finally:
        stop_process(proc)
