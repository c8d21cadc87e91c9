"""The agent's module contract: events round-trip through their wire form with stable keys."""

from __future__ import annotations

import datetime as dt

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.modules import load_modules
from shieldwall.model.finding import Severity


def test_event_wire_round_trip_keeps_key_and_fields() -> None:
    at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    event = AgentEvent("fim", "fim.modified", Severity.HIGH, "/etc/passwd changed", {"path": "/etc/passwd"}, at)
    wire = event.to_wire()
    back = AgentEvent.from_wire(wire)
    assert back.key == wire["key"] == event.with_key().key
    assert back.attributes == {"path": "/etc/passwd"}
    assert back.observed_at == at
    assert back.severity is Severity.HIGH


def test_event_key_depends_on_content() -> None:
    assert event_key("a", 1) == event_key("a", 1)
    assert event_key("a", 1) != event_key("a", 2)


def test_load_modules_has_unique_names() -> None:
    names = [m.name for m in load_modules()]
    assert len(names) == len(set(names))
