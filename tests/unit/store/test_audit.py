"""The audit trail: append, verify, and every kind of tampering made directly in the database."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text

from shieldwall.store import Store
from shieldwall.store.audit import (
    GENESIS,
    append_event,
    checkpoint,
    export_text,
    record,
    verify,
)


def _fill(store: Store, count: int) -> None:
    for index in range(count):
        record(store, "scan.recorded", f"image:sha256:{index:064x}", {"index": index, "é": "ü"}, actor="tester")


def test_untouched_trail_verifies(store: Store) -> None:
    _fill(store, 12)
    report = verify(store)
    assert report.ok, report.broken
    assert report.events == 12
    assert report.checkpoints == 2  # every 5 events
    assert report.last_signed_seq == 10
    assert report.unsigned_events == 2


def test_first_event_links_to_genesis(store: Store) -> None:
    with store.session() as session:
        event = append_event(store, session, "config.changed", "monitor", {"a": 1}, actor="me")
    assert event.seq == 1
    assert event.prev_hash == GENESIS
    assert len(event.hash) == 64


def test_edited_field_is_caught(store: Store) -> None:
    _fill(store, 8)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4"))
    report = verify(store)
    assert not report.ok
    assert report.broken is not None and report.broken.seq == 4
    assert "edited" in report.broken.problem


def test_edited_details_is_caught(store: Store) -> None:
    _fill(store, 3)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 2"), {"d": '{"index":99}'})
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 2


def test_deleted_event_is_caught(store: Store) -> None:
    _fill(store, 8)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 4
    assert "3 deleted" in report.broken.problem


def test_inserted_forged_event_is_caught(store: Store) -> None:
    _fill(store, 3)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3"))
        conn.execute(text("UPDATE audit_events SET seq = seq - 99 WHERE seq >= 100"))
        row = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 2")).one()
        # a forged event that links correctly to event 2 and carries a self-consistent hash
        from shieldwall.store.audit import event_document, event_hash

        doc = event_document(3, "2020-01-01T00:00:00.000000+00:00", "mallory", "exception.added", "x", "{}", row[0])
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (3, :at, 'mallory', 'exception.added', 'x', '{}', :prev, :hash)"
            ),
            {"at": doc["at"], "prev": row[0], "hash": event_hash(doc)},
        )
    report = verify(store)
    assert report.broken is not None
    assert report.broken.seq == 4  # the renumbered event after the forgery no longer matches its hash


def test_appended_forged_event_without_valid_hash_is_caught(store: Store) -> None:
    _fill(store, 3)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (4, '2030-01-01T00:00:00+00:00', 'mallory', 'x', 'y', '{}', :p, :h)"
            ),
            {"p": "ab" * 32, "h": "cd" * 32},
        )
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 4


def test_swapped_sequence_numbers_are_caught(store: Store) -> None:
    _fill(store, 6)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = -1"))
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 2


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(store: Store) -> None:
    _fill(store, 7)  # checkpoint at 5
    from shieldwall.store.audit import event_document, event_hash

    with store.engine.begin() as conn:
        rows = conn.execute(
            text("SELECT seq, at, actor, action, target, details, prev_hash FROM audit_events ORDER BY seq")
        ).all()
        prev = GENESIS
        for seq, at, actor, action, target, details, _ in rows:
            actor = "mallory" if seq == 2 else actor
            new_hash = event_hash(event_document(seq, at, actor, action, target, details, prev))
            conn.execute(
                text("UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": actor, "p": prev, "h": new_hash, "s": seq},
            )
            prev = new_hash
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 5
    assert "rewritten" in report.broken.problem


def test_forged_checkpoint_signature_is_caught(store: Store) -> None:
    _fill(store, 5)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET signature = :s"), {"s": "00" * 64})
    report = verify(store)
    assert report.broken is not None and "signature" in report.broken.problem


def test_truncated_tail_below_a_checkpoint_is_caught(store: Store) -> None:
    _fill(store, 5)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    report = verify(store)
    assert report.broken is not None and report.broken.seq == 5


def test_manual_checkpoint_signs_the_head(store: Store) -> None:
    _fill(store, 2)
    made = checkpoint(store, actor="auditor")
    assert made is not None and made.seq == 3
    report = verify(store)
    assert report.ok and report.unsigned_events == 0


def test_export_jsonl_and_csv_with_a_time_range(store: Store) -> None:
    _fill(store, 4)
    lines = "".join(export_text(store, "jsonl")).splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["seq"] for d in docs] == [1, 2, 3, 4]
    assert json.loads(docs[0]["details"])["é"] == "ü"
    middle = docs[2]["at"]
    later = list(json.loads(x) for x in "".join(export_text(store, "jsonl", since=middle)).splitlines())
    assert [d["seq"] for d in later] == [3, 4]
    earlier = "".join(export_text(store, "csv", until=middle))
    rows = list(csv.DictReader(io.StringIO(earlier)))
    assert [r["seq"] for r in rows] == ["1", "2"]
    assert rows[0]["actor"] == "tester"
    with pytest.raises(Exception, match="ISO 8601"):
        list(export_text(store, "csv", since="yesterday"))
