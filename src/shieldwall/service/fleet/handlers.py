"""The manager's side of each agent module: what happens to its events once they are stored.

An explicit list (no registration by import side effects): ``fim`` events are
classified against the pipeline's change windows and tagged ``expected
(<deploy id>)`` or ``unexpected`` on the stored event, and unexpected ones
alert; ``logs`` alerts go to the audit trail and the alert channels; ``drift`` events become
drift findings on the container's asset; ``ips`` events are kept for the
virtual-patching views (what was blocked, on which host). Each handler runs
after the batch is committed (``ingest_batch``), so a failing handler never
loses or duplicates an event: its error is reported in the ingest result.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from shieldwall.agent.events import AgentEvent
from shieldwall.service.fleet.effects import claim_effect
from shieldwall.service.fleet.ingest import ModuleHandler
from shieldwall.store import Store
from shieldwall.store.schema import Agent, AgentEventRow


def _agent(store: Store, agent_id: int) -> tuple[str, str, int | None, str]:
    with store.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise LookupError(f"agent {agent_id} is not known")
        return agent.hostname, agent.environment, agent.asset_id, agent.uid


ALERT_EVENT = "agent-alert"


def raise_alerts(store: Store, agent_id: int, events: Sequence[AgentEvent], why: str) -> int:
    """Audit each event and queue it on every alert channel whose ``min_severity`` it reaches; how many queued.

    Channels are the monitor's alert settings (the same outbox, rate limits and
    retries as image alerts); the audit trail records every alert whether or
    not a channel is configured.
    """
    from shieldwall.model import Severity
    from shieldwall.service.fleet.status import monitor_alert_settings
    from shieldwall.store import audit
    from shieldwall.store.outbox import enqueue

    if not events:
        return 0
    host, environment, asset_id, uid = _agent(store, agent_id)
    settings = monitor_alert_settings(store)
    queued = 0
    with store.session() as session:
        for event in events:
            keyed = event.with_key()
            if not claim_effect(session, agent_id, keyed.key, "alert"):  # processed again: alerted already
                continue
            payload = {
                "event": ALERT_EVENT,
                "why": why,
                "agent": uid,
                "hostname": host,
                "environment": environment,
                "module": event.module,
                "kind": event.kind,
                "severity": event.severity.value,
                "title": f"{host or uid}: {event.summary}"[:500],
                "observed_at": event.observed_at.isoformat(),
                "attributes": dict(event.attributes),
            }
            audit.append_event(
                store,
                session,
                "agent.alert",
                f"agent:{uid}",
                {"module": event.module, "kind": event.kind, "severity": event.severity.value, "key": keyed.key,
                 "why": why, "summary": event.summary[:500]},
                actor=f"agent:{uid}",
            )  # fmt: skip
            if settings is None or event.severity.rank < Severity(settings.min_severity).rank:
                continue
            for channel in settings.channels:
                queued += enqueue(
                    session, channel.name, ALERT_EVENT, f"agent:{uid}", keyed.key, payload, asset_id=asset_id
                )
    return queued


def handle_logs(store: Store, agent_id: int, events: Sequence[AgentEvent]) -> None:
    """Log-inspection alerts land in the audit trail and the alert channels (the store already has them)."""
    raise_alerts(store, agent_id, [e for e in events if e.kind == "logs.alert"], "log rule matched")


def handle_fim(store: Store, agent_id: int, events: Sequence[AgentEvent]) -> None:
    """Tag each file event ``expected (<deploy id>)`` inside a change window, ``unexpected`` outside;
    unexpected changes alert."""
    from shieldwall.service.change_windows import classify, windows_overlapping

    host, environment, _, _ = _agent(store, agent_id)
    labels: dict[str, dict[str, object]] = {}
    unexpected: list[AgentEvent] = []
    files = [e for e in events if isinstance(e.attributes.get("path"), str) and e.attributes.get("path")]
    if not files:
        return
    times = [e.observed_at for e in files]
    windows = windows_overlapping(store, environment, min(times), max(times))  # one query per batch
    for event in files:
        path = str(event.attributes["path"])
        verdict = classify(
            windows,
            host=host,
            environment=environment,
            path=path,
            observed_at=event.observed_at,
        )
        labels[event.with_key().key] = {"change_window": verdict.label, "deploy_id": verdict.deploy_id or ""}
        if not verdict.expected:
            unexpected.append(event)
    if not labels:
        return
    with store.session() as session:  # commits on exit
        rows = session.scalars(
            select(AgentEventRow).where(AgentEventRow.agent_id == agent_id, AgentEventRow.key.in_(list(labels)))
        )
        for row in rows:
            attributes = json.loads(row.attributes or "{}")
            attributes.update(labels[row.key])
            row.attributes = json.dumps(attributes, sort_keys=True)
    raise_alerts(store, agent_id, unexpected, "file changed outside any change window")


def handle_drift(store: Store, agent_id: int, events: Sequence[AgentEvent]) -> None:
    """Drift events become drift findings on the container's asset of the agent's own host."""
    from shieldwall.service.container_drift import record_drift_events

    host, _, _, uid = _agent(store, agent_id)
    # the host is the one the agent enrolled as, whatever the event claims: an agent writes only its own assets
    named = [dataclasses.replace(e, attributes={**e.attributes, "host": host}) for e in events]
    record_drift_events(store, named, actor=f"agent:{uid}")


def handle_ips(store: Store, agent_id: int, events: Sequence[AgentEvent]) -> None:
    """IPS alerts and drops are kept against the host's asset for the virtual-patching views."""
    from shieldwall.vpatch.events import record_events

    _, _, asset_id, _ = _agent(store, agent_id)
    if asset_id is None:  # no inventory yet: the events stay in the agent event log only
        return
    record_events(store, asset_id, [e.to_wire() for e in events])


BUILTIN: Mapping[str, ModuleHandler] = {
    "fim": handle_fim,
    "logs": handle_logs,
    "drift": handle_drift,
    "ips": handle_ips,
}
"""Built-in module handlers; ``ingest.HANDLERS`` adds or overrides (plugins, tests)."""
