"""Heartbeats and fleet status: online, offline, stale; an alert when an agent goes silent.

An agent is ``online`` while its last request is younger than
``online_seconds`` (three heartbeat intervals by default), ``offline`` after
that, ``stale`` once it has been silent for ``stale_seconds``, and
``revoked`` when revoked. ``sweep_silent`` queues one alert per silent period
in the alert outbox (channels from the monitor's alert settings).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from shieldwall.alert.config import AlertSettings
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.outbox import enqueue
from shieldwall.store.schema import Agent

DEFAULT_HEARTBEAT_SECONDS = 30
DEFAULT_ONLINE_SECONDS = 3 * DEFAULT_HEARTBEAT_SECONDS
DEFAULT_STALE_SECONDS = 24 * 3600
SILENT_EVENT = "agent-silent"


@dataclass(frozen=True, slots=True)
class StatusThresholds:
    """When an agent counts as offline and stale."""

    online_seconds: float = DEFAULT_ONLINE_SECONDS
    stale_seconds: float = DEFAULT_STALE_SECONDS


def agent_status(agent: Agent, now: dt.datetime, thresholds: StatusThresholds | None = None) -> str:
    """``online``, ``offline``, ``stale``, ``revoked`` or ``never`` (enrolled, never heard from since)."""
    limits = thresholds or StatusThresholds()
    if agent.revoked_at is not None:
        return "revoked"
    if agent.last_seen is None:
        return "never"
    age = (now - agent.last_seen).total_seconds()
    if age <= limits.online_seconds:
        return "online"
    if age <= limits.stale_seconds:
        return "offline"
    return "stale"


def record_heartbeat(store: Store, agent_id: int, heartbeat: Mapping[str, Any]) -> int:
    """Keep the agent's reported state (version, uptime, modules, spool, drops, resources) and ``last_seen``.

    Returns the policy revision the agent should run (read in the same transaction).
    """
    from shieldwall.service.fleet.policy import agent_has_ips, policy_for_agent, revision_in

    now = utcnow()
    with store.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            return 0
        agent.last_seen = now
        agent.version = str(heartbeat.get("version", ""))[:64]
        applied = heartbeat.get("applied_revision")
        agent.applied_revision = int(applied) if isinstance(applied, int) else None
        dropped = heartbeat.get("dropped") or {}
        agent.dropped_total = sum(int(v) for v in dropped.values())
        state = dict(heartbeat)
        state["received_at"] = now.isoformat()
        agent.state = json.dumps(state, sort_keys=True, default=str)
        agent.silent_alerted_at = None
        revision = revision_in(session, agent)
    if revision and agent_has_ips(store, agent_id):
        return policy_for_agent(store, agent_id).revision  # virtual patches change the revision too
    return revision


def sweep_silent(
    store: Store,
    alerts: AlertSettings | None,
    *,
    thresholds: StatusThresholds | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Queue an alert for every agent that went silent and was not alerted for it yet; their IDs."""
    limits = thresholds or StatusThresholds()
    clock = now or utcnow()
    cutoff = clock - dt.timedelta(seconds=limits.online_seconds)
    alerted: list[str] = []
    with store.session() as session:
        rows = session.scalars(
            select(Agent).where(
                Agent.revoked_at.is_(None),
                Agent.last_seen.is_not(None),
                Agent.last_seen < cutoff,
                Agent.silent_alerted_at.is_(None),
            )
        )
        for agent in rows:
            assert agent.last_seen is not None
            fingerprint = f"silent:{agent.uid}:{int(agent.last_seen.timestamp())}"
            payload = {
                "event": SILENT_EVENT,
                "agent": agent.uid,
                "hostname": agent.hostname,
                "environment": agent.environment,
                "last_seen": agent.last_seen.isoformat(),
                "severity": "HIGH",
                "title": f"agent {agent.hostname or agent.uid} silent since {agent.last_seen.isoformat()}",
            }
            for channel in alerts.channels if alerts is not None else ():
                enqueue(
                    session,
                    channel.name,
                    SILENT_EVENT,
                    f"agent:{agent.uid}",
                    fingerprint,
                    payload,
                    asset_id=agent.asset_id,
                    now=clock,
                )
            agent.silent_alerted_at = clock
            alerted.append(agent.uid)
    return alerted


def monitor_alert_settings(store: Store) -> AlertSettings | None:
    """The alert channels configured for the monitor (kept in the store), or None."""
    from shieldwall.service.monitor import CONFIG_SETTING
    from shieldwall.service.monitor_config import parse_config

    raw = store.get_setting(CONFIG_SETTING)
    if not isinstance(raw, dict):
        return None
    return parse_config(raw, "stored monitor configuration").alerts
