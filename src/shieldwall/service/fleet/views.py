"""Read-side of the fleet for the API and the dashboard: agents with status and findings, events, inventories."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.agent.signing import key_fingerprint
from shieldwall.errors import InputError
from shieldwall.service.fleet.errors import FleetNotFoundError
from shieldwall.service.fleet.status import StatusThresholds, agent_status
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import (
    Agent,
    AgentEventRow,
    AgentPolicy,
    AgentPolicyVersion,
    FindingStatus,
    Inventory,
    InventoryPackage,
    StoredFinding,
)

ACTIVE = (str(FindingStatus.OPEN), str(FindingStatus.REOPENED))


def _findings_by_severity(session: Session, asset_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not asset_ids:
        return {}
    rows = session.execute(
        select(StoredFinding.asset_id, StoredFinding.severity, func.count())
        .where(StoredFinding.asset_id.in_(list(asset_ids)), StoredFinding.status.in_(ACTIVE))
        .group_by(StoredFinding.asset_id, StoredFinding.severity)
    ).all()
    out: dict[int, dict[str, int]] = {}
    for asset_id, severity, count in rows:
        out.setdefault(int(asset_id), {})[str(severity)] = int(count)
    return out


def _policy_info(session: Session, policy_id: int | None) -> tuple[str | None, int]:
    if policy_id is None:
        return None, 0
    policy = session.get(AgentPolicy, policy_id)
    if policy is None or policy.deleted:
        return None, 0
    revision = session.scalar(
        select(AgentPolicyVersion.id).where(
            AgentPolicyVersion.policy_id == policy.id, AgentPolicyVersion.version == policy.current_version
        )
    )
    return policy.name, int(revision or 0)


def _agent_dict(
    session: Session, agent: Agent, findings: dict[str, int], now: dt.datetime, thresholds: StatusThresholds | None
) -> dict[str, Any]:
    policy, revision = _policy_info(session, agent.policy_id)
    return {
        "id": agent.uid,
        "hostname": agent.hostname,
        "environment": agent.environment,
        "status": agent_status(agent, now, thresholds),
        "version": agent.version,
        "enrolled_at": agent.enrolled_at,
        "last_seen": agent.last_seen,
        "policy": policy,
        "policy_revision": revision,
        "applied_revision": agent.applied_revision,
        "asset_id": agent.asset_id,
        "dropped_total": agent.dropped_total,
        "findings": findings,
    }


def encode_cursor(last_id: int) -> str:
    """An opaque cursor after event ``last_id``."""
    return base64.urlsafe_b64encode(f"ev:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The event ID a cursor points after; ``InputError`` when malformed."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InputError("invalid cursor") from None
    prefix, _, number = text.partition(":")
    if prefix != "ev" or not number.isdigit() or len(number) > 19:
        raise InputError("invalid cursor")
    return int(number)


def list_agents(
    store: Store, *, status: str = "", environment: str = "", thresholds: StatusThresholds | None = None
) -> list[dict[str, Any]]:
    """Every agent with its status and active findings by severity (filtered)."""
    now = utcnow()
    with store.session() as session:
        query = select(Agent).order_by(Agent.hostname, Agent.id)
        if environment:
            query = query.where(Agent.environment == environment)
        agents = list(session.scalars(query))
        counts = _findings_by_severity(session, [a.asset_id for a in agents if a.asset_id is not None])
        out = [_agent_dict(session, a, counts.get(a.asset_id or -1, {}), now, thresholds) for a in agents]
    return [a for a in out if not status or a["status"] == status]


def agent_row(session: Session, uid: str) -> Agent:
    """The agent with public ID ``uid`` or ``FleetNotFoundError``."""
    agent = session.scalars(select(Agent).where(Agent.uid == uid)).first()
    if agent is None:
        raise FleetNotFoundError(f"no agent {uid}")
    return agent


def agent_detail(store: Store, uid: str, thresholds: StatusThresholds | None = None) -> dict[str, Any]:
    """One agent in full."""
    now = utcnow()
    with store.session() as session:
        agent = agent_row(session, uid)
        counts = _findings_by_severity(session, [agent.asset_id] if agent.asset_id is not None else [])
        data = _agent_dict(session, agent, counts.get(agent.asset_id or -1, {}), now, thresholds)
        data.update(
            facts=json.loads(agent.facts or "{}"),
            state=json.loads(agent.state or "{}"),
            key=key_fingerprint(agent.public_key),
            revoked_at=agent.revoked_at,
        )
        return data


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What an events listing is restricted to (empty: anything)."""

    agent: str = ""
    module: str = ""
    kind: str = ""
    severities: tuple[str, ...] = ()


def page_events(
    store: Store, filt: EventFilter, *, limit: int = 50, cursor: str = ""
) -> tuple[list[dict[str, Any]], str]:
    """Events newest first, one page, and the cursor of the next page ('' at the end)."""
    with store.session() as session:
        query = select(AgentEventRow, Agent.uid).join(Agent, Agent.id == AgentEventRow.agent_id)
        if filt.agent:
            query = query.where(Agent.uid == filt.agent)
        if filt.module:
            query = query.where(AgentEventRow.module == filt.module)
        if filt.kind:
            query = query.where(AgentEventRow.kind == filt.kind)
        if filt.severities:
            query = query.where(AgentEventRow.severity.in_(filt.severities))
        if cursor:
            last_id = decode_cursor(cursor)
            query = query.where(AgentEventRow.id < last_id)
        rows = session.execute(query.order_by(AgentEventRow.id.desc()).limit(limit + 1)).all()
    items = [
        {
            "id": row.id,
            "agent": uid,
            "key": row.key,
            "module": row.module,
            "kind": row.kind,
            "severity": row.severity,
            "summary": row.summary,
            "attributes": json.loads(row.attributes or "{}"),
            "observed_at": row.observed_at,
            "received_at": row.received_at,
        }
        for row, uid in rows[:limit]
    ]
    nxt = encode_cursor(items[-1]["id"]) if len(rows) > limit and items else ""
    return items, nxt


def event_keys(store: Store, uid: str) -> list[str]:
    """Every stored event key of one agent (tests and diagnostics)."""
    with store.session() as session:
        agent = agent_row(session, uid)
        return list(session.scalars(select(AgentEventRow.key).where(AgentEventRow.agent_id == agent.id)))


def host_inventory(store: Store, uid: str, *, max_packages: int = 20_000) -> dict[str, Any]:
    """The agent's last inventory: host sections and the stored packages of its host asset."""
    with store.session() as session:
        agent = agent_row(session, uid)
        packages: list[dict[str, Any]] = []
        if agent.asset_id is not None:
            inventory = session.scalars(select(Inventory).where(Inventory.asset_id == agent.asset_id)).first()
            if inventory is not None:
                rows = session.scalars(
                    select(InventoryPackage)
                    .where(InventoryPackage.inventory_id == inventory.id)
                    .order_by(InventoryPackage.type, InventoryPackage.name)
                    .limit(max_packages)
                )
                packages = [
                    {
                        "type": r.type,
                        "name": r.name,
                        "version": r.version,
                        "purl": r.purl,
                        "path": r.path,
                        "source_name": r.source_name,
                        "arch": r.arch,
                    }
                    for r in rows
                ]
        return {
            "agent": agent.uid,
            "asset_id": agent.asset_id,
            "hash": agent.inventory_hash,
            "inventory": json.loads(agent.inventory or "{}"),
            "packages": packages,
        }


def check_cursor(cursor: str) -> None:
    """Raise ``InputError`` for a malformed events cursor."""
    if cursor:
        decode_cursor(cursor)
