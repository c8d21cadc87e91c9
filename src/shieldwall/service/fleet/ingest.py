"""Ingest: an agent's batch of events into the store, each recorded exactly once.

``ingest_batch`` is one plain function (a worker can run it as a task): it
inserts the events whose ``(agent, key)`` is new, counts the rest as
duplicates (a retried upload), and then hands the new events of each module to
that module's manager-side handler in ``HANDLERS``. Handlers run after the
events are committed, so a failing handler never loses or duplicates an
event; its failure is counted in the result and logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.agent.events import AgentEvent
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Agent, AgentEventRow

log = logging.getLogger(__name__)

ModuleHandler = Callable[[Store, int, Sequence[AgentEvent]], None]
"""Manager-side processing of one module's new events: ``(store, agent row id, events)``."""

HANDLERS: dict[str, ModuleHandler] = {}
"""Extra module handlers (plugins, tests); the built-in ones are listed in ``service/fleet/handlers.py``."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to a batch: keys newly stored, keys already there, handler failures by module."""

    accepted: tuple[str, ...]
    duplicates: tuple[str, ...]
    handler_errors: Mapping[str, str] = field(default_factory=dict)


def ingest_batch(
    store: Store,
    agent_id: int,
    events: Sequence[AgentEvent],
    *,
    dropped: Mapping[str, int] | None = None,
    handlers: Mapping[str, ModuleHandler] | None = None,
) -> IngestResult:
    """Store ``events`` of one agent idempotently; record the agent's cumulative drop counts."""
    now = utcnow()
    with store.session() as session:
        accepted, duplicates = store_events(session, agent_id, events, now)
        record_seen(session, agent_id, dropped, now)
    if handlers is None:
        handlers = builtin_handlers()
    errors = run_handlers(store, agent_id, accepted, handlers)
    return IngestResult(tuple(e.key for e in accepted), tuple(duplicates), errors)


def store_events(
    session: Session, agent_id: int, events: Sequence[AgentEvent], now: dt.datetime
) -> tuple[list[AgentEvent], list[str]]:
    """Insert the events whose ``(agent, key)`` is new inside ``session``: (the new events, the duplicate keys)."""
    keyed = [e.with_key() for e in events]
    unique: dict[str, AgentEvent] = {}
    for event in keyed:
        unique.setdefault(event.key, event)
    accepted: list[AgentEvent] = []
    duplicates: list[str] = [e.key for e in keyed if unique.get(e.key) is not e]
    known = (
        set(
            session.scalars(
                select(AgentEventRow.key).where(AgentEventRow.agent_id == agent_id, AgentEventRow.key.in_(list(unique)))
            )
        )
        if unique
        else set()
    )
    for key, event in unique.items():
        if key in known:
            duplicates.append(key)
            continue
        row = AgentEventRow(
            agent_id=agent_id,
            key=key,
            module=event.module,
            kind=event.kind,
            severity=str(event.severity),
            summary=event.summary,
            attributes=json.dumps(dict(event.attributes), sort_keys=True, default=str),
            observed_at=event.observed_at,
            received_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # a concurrent upload of the same batch stored it first
            duplicates.append(key)
            continue
        accepted.append(event)
    return accepted, duplicates


def record_seen(session: Session, agent_id: int, dropped: Mapping[str, int] | None, now: dt.datetime) -> None:
    """The agent called in now; keep its cumulative drop counts per module."""
    agent = session.get(Agent, agent_id)
    if agent is not None:
        agent.last_seen = now
        if dropped:
            state = json.loads(agent.state or "{}")
            state["dropped"] = {k: int(v) for k, v in dropped.items()}
            agent.state = json.dumps(state, sort_keys=True)
            agent.dropped_total = sum(int(v) for v in dropped.values())


def builtin_handlers() -> dict[str, ModuleHandler]:
    """The built-in module handlers plus ``HANDLERS`` (which win)."""
    from shieldwall.service.fleet.handlers import BUILTIN

    return {**BUILTIN, **HANDLERS}


def run_handlers(
    store: Store, agent_id: int, events: Sequence[AgentEvent], handlers: Mapping[str, ModuleHandler]
) -> dict[str, str]:
    by_module: dict[str, list[AgentEvent]] = {}
    for event in events:
        by_module.setdefault(event.module, []).append(event)
    errors: dict[str, str] = {}
    for module, items in by_module.items():
        handler = handlers.get(module)
        if handler is None:
            continue
        try:
            handler(store, agent_id, items)
        except Exception as exc:  # a handler's bug must not lose the batch; it is reported, not hidden
            log.exception("agent event handler for %s failed", module)
            errors[module] = f"{type(exc).__name__}: {exc}"
    return errors
