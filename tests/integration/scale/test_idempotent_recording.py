"""The same scan delivered twice is one scan; the audit chain stays one chain with several writers."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers.scale_cluster import append_many
from helpers.store_data import deb, image_result
from helpers.store_fixtures import store, store_url
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.records import record_scan
from shieldwall.store.schema import AuditEvent, Scan, ScanIdempotency

__all__ = ["store", "store_url"]

pytestmark = pytest.mark.integration


def _count(store: Store, table: type) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_same_request_twice_is_one_scan_and_one_audit_event(store: Store) -> None:
    result = image_result("a", (deb("openssl", "3.0.13-1~deb12u1"),))
    first = record_scan(store, result, trigger="worker", request_key="initial")
    second = record_scan(store, result, trigger="worker", request_key="initial")
    assert not first.duplicate
    assert second.duplicate
    assert (second.scan_id, second.asset_id) == (first.scan_id, first.asset_id)
    assert _count(store, Scan) == 1
    assert _count(store, ScanIdempotency) == 1
    with store.session() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("scan.recorded") == 1
    # another request about the same digest (a scheduled rescan) is a new scan
    third = record_scan(store, result, trigger="schedule", request_key="schedule:1")
    assert not third.duplicate and third.scan_id != first.scan_id
    assert _count(store, Scan) == 2
    # without a request key nothing changes from before: every call records
    record_scan(store, result)
    assert _count(store, Scan) == 3


def test_concurrent_deliveries_of_one_request_record_once(store: Store) -> None:
    result = image_result("b", (deb("zlib", "1:1.2.13.dfsg-1"),))
    barrier = threading.Barrier(4)
    records: list[object] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            records.append(record_scan(store, result, trigger="worker", request_key="job:42"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(records) == 4
    assert sum(1 for r in records if not r.duplicate) == 1  # type: ignore[attr-defined]
    assert len({r.scan_id for r in records}) == 1  # type: ignore[attr-defined]
    assert _count(store, Scan) == 1
    assert verify(store).ok


def test_audit_chain_stays_one_chain_with_four_writer_processes(store_url: str, tmp_path: Path) -> None:
    key = tmp_path / "audit-key.pem"
    Store.open(store_url, audit_key_path=key).close()  # migrate once, create the key
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=append_many, args=(store_url, str(key), w, 25)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(180)
        assert process.exitcode == 0
    with Store.open(store_url, audit_key_path=key, checkpoint_every=7) as opened:  # the writers' cadence
        report = verify(opened)
        with opened.session() as session:
            seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
            writers = {t for t in session.scalars(select(AuditEvent.target))}
    assert report.ok, (report.broken, report.notes)
    assert report.checkpoints >= 1
    assert seqs == list(range(1, len(seqs) + 1))
    assert len([s for s in seqs]) >= 100
    assert {f"writer:{w}" for w in range(4)} <= writers
