"""The read models behind the change and decision pages on SQLite and on a real PostgreSQL (jsonb grouping)."""

from __future__ import annotations

from helpers.dashops_story import build_story
from shieldwall.api import changes, decisions
from shieldwall.store import Store


def test_history_fleet_and_decisions_on_both_backends(store: Store) -> None:
    story = build_story(store)
    history = changes.asset_history(store, story.new_image)
    assert [s.scan.id for s in history.steps] == [story.rebuild_scan, story.rescan, story.first_scan]
    assert history.steps[0].packages == {"added": 1, "removed": 0, "upgraded": 1, "downgraded": 0, "changed": 0}
    assert history.steps[1].resolved_findings == 1 and history.steps[2].new_findings == 2
    fleet = changes.fleet_changes(store, *changes.period(1))
    assert (fleet.added_count, fleet.rebuilt_count, fleet.retired_count) == (2, 1, 1)
    assert fleet.resolved_findings["MEDIUM"] == 1

    made = decisions.decisions(store, within_days=7)
    assert [(s.kind, s.author, s.status, s.findings, s.assets, s.state) for s in made.statements] == [
        ("vex", "alice@example.com", "not_affected", 1, 1, "expiring")
    ]
    assert not made.statements_truncated
    assert [e.exception.author for e in made.expiring] == ["bob"] and made.expiring[0].suppressing == 1
    assert [e.exception.author for e in made.expired] == ["carol"]
    assert [e.exception.author for e in made.open_ended] == ["dave"]
    assert made.audit.ok and made.audit.events >= 5
