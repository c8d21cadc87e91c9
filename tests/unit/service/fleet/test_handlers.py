"""The manager's side of the agent modules: events, once stored, are classified or become findings.

Through ``ingest_batch`` (the path the API's upload endpoint takes), on SQLite and PostgreSQL:
FIM events inside a pipeline's change window are tagged expected with the deploy ID, others
unexpected; drift events become drift findings on the container's asset, named after the host
the agent enrolled as; a handler's failure is reported in the result and loses no event.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.signing import load_or_create_key
from shieldwall.model import Severity
from shieldwall.service.change_windows import create_window
from shieldwall.service.fleet import ingest
from shieldwall.service.fleet.enroll import enroll
from shieldwall.service.fleet.tokens import create_token
from shieldwall.store import Store
from shieldwall.store.schema import AgentEventRow, Asset, StoredFinding


def _agent(store: Store, tmp_path: Path, hostname: str = "web-1") -> int:
    key = load_or_create_key(tmp_path / "agent.key")
    token = create_token(store, name="t", environment="prod").token
    return enroll(store, token, key.public_text, hostname, {}).id


def _attributes(store: Store, agent_id: int) -> dict[str, dict[str, object]]:
    with store.session() as session:
        rows = session.scalars(select(AgentEventRow).where(AgentEventRow.agent_id == agent_id))
        return {json.loads(r.attributes)["path"]: json.loads(r.attributes) for r in rows}


def test_fim_events_in_a_change_window_are_expected_others_unexpected(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)
    create_window(
        store,
        environment="prod",
        host_glob="web-*",
        path_glob="/srv/app/**",
        deploy_id="deploy-42",
        duration=dt.timedelta(minutes=15),
        actor="ci",
    )
    now = dt.datetime.now(dt.UTC)  # after the window opened
    events = [
        AgentEvent("fim", "fim.modified", Severity.MEDIUM, "changed", {"path": "/srv/app/main.py"}, now),
        AgentEvent("fim", "fim.modified", Severity.HIGH, "changed", {"path": "/etc/sudoers"}, now),
        AgentEvent(
            "fim", "fim.added", Severity.MEDIUM, "added", {"path": "/srv/app/new.py"}, now - dt.timedelta(hours=3)
        ),
    ]
    result = ingest.ingest_batch(store, agent_id, events)
    assert result.handler_errors == {}
    tagged = _attributes(store, agent_id)
    assert tagged["/srv/app/main.py"]["change_window"] == "expected (deploy-42)"
    assert tagged["/srv/app/main.py"]["deploy_id"] == "deploy-42"
    assert tagged["/etc/sudoers"]["change_window"] == "unexpected"
    assert tagged["/srv/app/new.py"]["change_window"] == "unexpected"  # before the window opened


def test_drift_events_become_findings_on_the_container_of_the_agents_host(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path, hostname="node-7")
    container = "ab" * 32
    drift = AgentEvent(
        "drift",
        "drift.executable",
        Severity.HIGH,
        "new executable /usr/local/bin/nc",
        {"container_id": container, "container_name": "web", "image": "nginx:1.25", "path": "/usr/local/bin/nc",
         "change": "added", "size": 10, "host": "someone-elses-node"},
    )  # fmt: skip
    ingest.ingest_batch(store, agent_id, [drift])
    with store.session() as session:
        asset = session.scalars(select(Asset).where(Asset.kind == "container")).one()
        findings = list(session.scalars(select(StoredFinding).where(StoredFinding.asset_id == asset.id)))
    assert asset.identifier == f"container:node-7/{container}"
    assert [f.path for f in findings] == ["/usr/local/bin/nc"]


def test_a_failing_handler_is_reported_and_loses_no_event(store: Store, tmp_path: Path) -> None:
    agent_id = _agent(store, tmp_path)

    def broken(_store: Store, _agent_id: int, _events: object) -> None:
        raise RuntimeError("handler bug")

    event = AgentEvent("fim", "fim.deleted", Severity.HIGH, "deleted", {"path": "/etc/shadow"})
    result = ingest.ingest_batch(store, agent_id, [event], handlers={"fim": broken})
    assert result.handler_errors == {"fim": "RuntimeError: handler bug"}
    assert "/etc/shadow" in _attributes(store, agent_id)


def test_log_alerts_and_unexpected_changes_reach_the_audit_trail_and_alert_channels(
    store: Store, tmp_path: Path
) -> None:
    from shieldwall.service.monitor import CONFIG_SETTING
    from shieldwall.store.schema import AuditEvent, OutboxAlert

    store.put_setting(
        CONFIG_SETTING,
        {"alerts": {"min_severity": "HIGH", "channels": [{"name": "hook", "type": "webhook", "url": "http://x/h"}]}},
    )
    agent_id = _agent(store, tmp_path)
    create_window(
        store, environment="prod", host_glob="web-*", path_glob="/srv/app/**", deploy_id="d-1",
        duration=dt.timedelta(minutes=15), actor="ci",
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    events = [
        AgentEvent("logs", "logs.alert", Severity.HIGH, "sshd brute force from 203.0.113.9", {"rule": "5712"}, now),
        AgentEvent("logs", "logs.alert", Severity.LOW, "sshd session opened", {"rule": "5501"}, now),
        AgentEvent("fim", "fim.modified", Severity.HIGH, "changed", {"path": "/etc/sudoers"}, now),
        AgentEvent("fim", "fim.modified", Severity.HIGH, "changed", {"path": "/srv/app/main.py"}, now),
    ]
    result = ingest.ingest_batch(store, agent_id, events)
    assert result.handler_errors == {}
    with store.session() as session:
        queued = [json.loads(r.payload) for r in session.scalars(select(OutboxAlert))]
        audited = [
            json.loads(r.details) for r in session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.alert"))
        ]
    assert sorted(q["kind"] for q in queued) == ["fim.modified", "logs.alert"]  # HIGH and above, expected change not
    assert {q["title"] for q in queued} == {"web-1: sshd brute force from 203.0.113.9", "web-1: changed"}
    assert sorted(a["kind"] for a in audited) == ["fim.modified", "logs.alert", "logs.alert"]
    again = ingest.ingest_batch(store, agent_id, events)  # a retried upload: no new alert, no new audit event
    assert again.accepted == ()
    with store.session() as session:
        assert len(list(session.scalars(select(OutboxAlert)))) == 2
