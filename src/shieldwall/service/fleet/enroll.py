"""Enrollment (token + public key -> agent ID), revocation and key rotation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from shieldwall.agent.signing import key_fingerprint, parse_public_key
from shieldwall.errors import ShieldwallError
from shieldwall.service.fleet.errors import EnrollmentError, FleetNotFoundError
from shieldwall.service.fleet.tokens import consume_token
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Agent, AgentKey


def new_agent_uid() -> str:
    """A random, unguessable agent ID."""
    return "agt_" + secrets.token_hex(12)


def enroll(store: Store, token: str, public_key: str, hostname: str, facts: Mapping[str, Any]) -> Agent:
    """Use ``token`` to register a new agent with ``public_key``; the token's environment and policy apply."""
    try:
        parse_public_key(public_key)
    except ShieldwallError as exc:
        raise EnrollmentError(str(exc)) from None
    now = utcnow()
    with store.session() as session:
        row = consume_token(session, token, now)
        agent = Agent(
            uid=new_agent_uid(),
            hostname=hostname[:256],
            environment=row.environment,
            policy_id=row.policy_id,
            public_key=public_key,
            token_id=row.id,
            facts=json.dumps(dict(facts), sort_keys=True),
            enrolled_at=now,
            last_seen=now,
            state="{}",
            dropped_total=0,
        )
        session.add(agent)
        session.flush()
        session.add(AgentKey(agent_id=agent.id, public_key=public_key, created_at=now))
        audit.append_event(
            store,
            session,
            "agent.enrolled",
            f"agent:{agent.uid}",
            {
                "hostname": agent.hostname,
                "token_id": row.id,
                "environment": row.environment,
                "key": key_fingerprint(public_key),
            },
            actor=f"agent:{agent.uid}",
        )
        return agent


def revoke(store: Store, uid: str, *, actor: str = "") -> Agent:
    """Refuse every further request of this agent (it must re-enroll with a new token)."""
    with store.session() as session:
        agent = session.scalars(select(Agent).where(Agent.uid == uid)).first()
        if agent is None:
            raise FleetNotFoundError(f"no agent {uid}")
        if agent.revoked_at is None:
            agent.revoked_at = utcnow()
            audit.append_event(
                store, session, "agent.revoked", f"agent:{uid}", {"hostname": agent.hostname}, actor=actor
            )
        return agent


def rotate_key(store: Store, agent_id: int, new_public_key: str) -> Agent:
    """Replace an (already authenticated) agent's key; the old one is retired at once."""
    try:
        parse_public_key(new_public_key)
    except ShieldwallError as exc:
        raise EnrollmentError(str(exc)) from None
    now = utcnow()
    with store.session() as session:
        agent = session.get(Agent, agent_id, with_for_update=True)
        if agent is None:
            raise FleetNotFoundError("no such agent")
        old = agent.public_key
        for key in session.scalars(
            select(AgentKey).where(AgentKey.agent_id == agent_id, AgentKey.retired_at.is_(None))
        ):
            key.retired_at = now
        agent.public_key = new_public_key
        session.add(AgentKey(agent_id=agent_id, public_key=new_public_key, created_at=now))
        audit.append_event(
            store,
            session,
            "agent.key_rotated",
            f"agent:{agent.uid}",
            {"old_key": key_fingerprint(old), "new_key": key_fingerprint(new_public_key)},
            actor=f"agent:{agent.uid}",
        )
        return agent
