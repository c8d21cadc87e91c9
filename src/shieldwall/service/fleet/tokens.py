"""Enrollment tokens: created by an admin, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.service.fleet.errors import EnrollmentError, FleetNotFoundError
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.schema import AgentEnrollmentToken, AgentPolicy

TOKEN_PREFIX = "swe_"


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: ``token`` is the only time the secret is available."""

    id: int
    token: str
    row: AgentEnrollmentToken


def create_token(
    store: Store,
    *,
    name: str,
    environment: str = "",
    policy: str | None = None,
    max_uses: int | None = 1,
    ttl: dt.timedelta = dt.timedelta(hours=24),
    actor: str = "",
) -> CreatedToken:
    """A new enrollment token scoped to an environment and a policy, recorded in the audit trail."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with store.session() as session:
        policy_id = None
        if policy:
            row = session.scalars(
                select(AgentPolicy).where(AgentPolicy.name == policy, AgentPolicy.deleted.is_(False))
            ).first()
            if row is None:
                raise FleetNotFoundError(f"no policy named {policy!r}")
            policy_id = row.id
        token = AgentEnrollmentToken(
            token_hash=token_digest(secret),
            prefix=secret[:10],
            name=name[:128],
            environment=environment[:128],
            policy_id=policy_id,
            max_uses=max_uses,
            uses=0,
            expires_at=now + ttl,
            created_at=now,
            created_by=actor[:256],
        )
        session.add(token)
        session.flush()
        audit.append_event(
            store,
            session,
            "agent_token.created",
            f"enrollment-token:{token.id}",
            {
                "name": name,
                "environment": environment,
                "policy": policy,
                "max_uses": max_uses,
                "expires_at": token.expires_at.isoformat(),
            },
            actor=actor,
        )
        return CreatedToken(token.id, secret, token)


def list_tokens(store: Store) -> list[AgentEnrollmentToken]:
    """Every token (digests only), newest first."""
    with store.session() as session:
        return list(session.scalars(select(AgentEnrollmentToken).order_by(AgentEnrollmentToken.id.desc())))


def revoke_token(store: Store, token_id: int, *, actor: str = "") -> AgentEnrollmentToken:
    """Refuse further enrollments with this token."""
    with store.session() as session:
        row = session.get(AgentEnrollmentToken, token_id)
        if row is None:
            raise FleetNotFoundError(f"no enrollment token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.append_event(store, session, "agent_token.revoked", f"enrollment-token:{row.id}", {}, actor=actor)
        return row


def consume_token(session: Session, token: str, now: dt.datetime) -> AgentEnrollmentToken:
    """Check and use a token inside the enrollment transaction (row-locked on PostgreSQL)."""
    row = session.scalars(
        select(AgentEnrollmentToken).where(AgentEnrollmentToken.token_hash == token_digest(token)).with_for_update()
    ).first()
    if row is None:
        raise EnrollmentError("unknown enrollment token")
    if row.revoked_at is not None:
        raise EnrollmentError("enrollment token revoked")
    if row.expires_at <= now:
        raise EnrollmentError("enrollment token expired")
    if row.max_uses is not None and row.uses >= row.max_uses:
        raise EnrollmentError("enrollment token used up")
    row.uses += 1
    return row


def token_status(row: AgentEnrollmentToken, now: dt.datetime) -> str:
    """``active``, ``revoked``, ``expired`` or ``used``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if row.max_uses is not None and row.uses >= row.max_uses:
        return "used"
    return "active"
