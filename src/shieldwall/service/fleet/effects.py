"""Once-only effects of agent events: an alert is raised once per event, however often the event is processed.

A batch processed twice (delivered twice, or its worker killed after an alert
was committed and before the batch was marked done) must not alert twice. The
handler claims ``(agent, event key, effect)`` in the same transaction that
writes the effect: the primary key makes a second claim fail, so the effect
and its claim commit together or not at all.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.store.core import utcnow
from shieldwall.store.schema import AgentEventEffect


def claim_effect(session: Session, agent_id: int, key: str, effect: str) -> bool:
    """Claim ``effect`` of event ``key`` inside ``session``; False when it was already done (or is being done)."""
    try:
        with session.begin_nested():
            session.add(AgentEventEffect(agent_id=agent_id, key=key[:64], effect=effect[:32], created_at=utcnow()))
            session.flush()
    except IntegrityError:
        return False
    return True
