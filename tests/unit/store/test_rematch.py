"""Rematch: a change to the advisory database re-matches only the stored packages it names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from helpers.alert_receivers import WebhookReceiver
from helpers.store_data import CRITICAL_VECTOR, MEDIUM_VECTOR, deb, image_result, npm, osv, pypi
from shieldwall.alert.config import AlertSettings, ChannelConfig
from shieldwall.alert.dispatch import Dispatcher
from shieldwall.match.matcher import InMemoryAdvisories
from shieldwall.service.rematch import rematch, rematch_from_vulndb
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.outbox import status_counts
from shieldwall.store.queries import list_findings, set_golden
from shieldwall.store.records import record_scan
from shieldwall.store.schema import OutboxAlert
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB

JINJA = osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))
OPENSSL = osv("DSA-0001-1", "Debian:12", "openssl", "3.0.13-1~deb12u1", cvss=CRITICAL_VECTOR)
LODASH_LOW = osv("GHSA-lodash", "npm", "lodash", "4.17.21", cvss=MEDIUM_VECTOR)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


def _fleet(store: Store) -> None:
    record_scan(store, image_result("aa", (pypi("Jinja2", "2.11.2"), deb("bash", "5.2")), tag="a"))
    record_scan(store, image_result("bb", (pypi("jinja2", "2.10"), npm("lodash", "4.17.20")), tag="b"))
    record_scan(store, image_result("cc", (deb("libssl3", "3.0.11-1", "openssl", "3.0.11-1"),), tag="c"))
    record_scan(store, image_result("dd", (npm("lodash", "4.17.20"),), tag="d"))


def _settings(url: str, **extra: object) -> AlertSettings:
    return AlertSettings(channels=(ChannelConfig(name="hook", type="webhook", url=url + "/alerts"),), **extra)


def test_rematch_touches_only_packages_named_by_the_change(store: Store, receiver: WebhookReceiver) -> None:
    _fleet(store)
    source = InMemoryAdvisories([JINJA, OPENSSL])
    report = rematch(store, source, {("PyPI", "jinja2")}, alerts=_settings(receiver.url))
    assert report.package_rows_read == 2  # two Jinja2 rows out of six stored packages
    assert report.inventories == 2
    assert report.new_findings == 2
    assert report.alerts_queued == 2
    assert {f.rule_id for f in list_findings(store)} == {"CVE-2020-28493"}  # openssl was not in the change
    stats = Dispatcher(store, _settings(receiver.url)).run_once()
    assert stats.sent == 2
    assert len(receiver.raw) == 2
    body = receiver.raw[0].body
    assert body["finding"]["rule_id"] == "CVE-2020-28493"
    assert body["idempotency_key"] == receiver.raw[0].headers["idempotency-key"]
    # the same change again: nothing new, no second alert
    again = rematch(store, source, {("PyPI", "jinja2")}, alerts=_settings(receiver.url))
    assert again.new_findings == 0 and again.alerts_queued == 0
    assert Dispatcher(store, _settings(receiver.url)).run_once().sent == 0
    assert verify(store).ok


def test_distro_changes_find_binaries_through_their_source_package(store: Store) -> None:
    _fleet(store)
    report = rematch(store, InMemoryAdvisories([OPENSSL]), {("Debian:12", "openssl")})
    assert report.package_rows_read == 1
    assert [f.package for f in list_findings(store)] == ["libssl3"]


def test_withdrawn_advisory_marks_findings_not_applicable(store: Store) -> None:
    _fleet(store)
    rematch(store, InMemoryAdvisories([JINJA]), {("PyPI", "jinja2")})
    report = rematch(store, InMemoryAdvisories([]), {("PyPI", "jinja2")})
    assert sum(len(a.not_applicable) for a in report.assets) == 2
    assert {f.status for f in list_findings(store)} == {"not-applicable"}
    back = rematch(store, InMemoryAdvisories([JINJA]), {("PyPI", "jinja2")})
    assert {f.status for f in list_findings(store)} == {"reopened"}
    assert back.new_findings == 0


def test_severity_threshold_and_golden_scope(store: Store, receiver: WebhookReceiver) -> None:
    _fleet(store)
    settings = _settings(receiver.url, scope="golden")
    set_golden(store, "registry.test/app:b", True)
    report = rematch(store, InMemoryAdvisories([JINJA, LODASH_LOW]), None, alerts=settings)
    assert report.full
    assert report.new_findings == 4  # jinja2 x2, lodash x2
    with store.session() as session:
        queued = list(session.scalars(select(OutboxAlert)))
    # golden scope: only asset bb; min severity HIGH: only its critical jinja2 finding
    assert [row.fingerprint for row in queued] == [
        f.fingerprint for f in list_findings(store, asset="registry.test/app:b", rule="CVE-2020-28493")
    ]


def test_golden_images_are_rematched_after_their_tag_moved(store: Store) -> None:
    record_scan(store, image_result("aa", (pypi("Jinja2", "2.11.2"),), tag="base"))
    set_golden(store, "registry.test/app:base", True)
    record_scan(store, image_result("bb", (pypi("Jinja2", "2.11.3"),), tag="base"))
    record_scan(store, image_result("cc", (pypi("Jinja2", "2.11.2"),), tag="old"))
    record_scan(store, image_result("ee", (pypi("Jinja2", "2.11.2"),), tag="old"))
    report = rematch(store, InMemoryAdvisories([JINJA]), {("PyPI", "jinja2")})
    rematched = {a.identifier[-2:] for a in report.assets}
    assert rematched == {"aa", "bb", "ee"}  # golden aa kept; cc lost its only tag and is inactive
    assert report.new_findings == 2


def test_outbox_failures_back_off_then_die(store: Store) -> None:
    receiver = WebhookReceiver(status=500)
    try:
        _fleet(store)
        settings = _settings(receiver.url, max_attempts=2, backoff_seconds=0.001)
        rematch(store, InMemoryAdvisories([OPENSSL]), {("Debian", "openssl")}, alerts=settings)
        dispatcher = Dispatcher(store, settings)
        first = dispatcher.run_once()
        assert first.failed == 1
        import time

        time.sleep(0.01)
        second = dispatcher.run_once()
        assert second.dead == 1
        assert status_counts(store) == {"dead": 1}
        assert len(receiver.raw) == 2
        assert verify(store).ok
    finally:
        receiver.stop()


def test_rate_limit_postpones(store: Store, receiver: WebhookReceiver) -> None:
    _fleet(store)
    settings = _settings(receiver.url, rate_limit_per_minute=1, min_severity="LOW")
    rematch(store, InMemoryAdvisories([JINJA, LODASH_LOW]), None, alerts=settings)
    stats = Dispatcher(store, settings).run_once()
    assert stats.sent == 1
    assert stats.postponed == 3
    assert status_counts(store) == {"sent": 1, "pending": 3}


def test_missed_database_builds_trigger_a_full_rematch(store: Store, tmp_path: Path) -> None:
    _fleet(store)
    db = tmp_path / "vulndb.sqlite"
    with VulnDB.build(db) as writer:
        writer.replace_source(SourceInfo("t"), [JINJA])
    first = rematch_from_vulndb(store, db)
    assert first is not None and not first.full and first.new_findings == 2
    assert rematch_from_vulndb(store, db, only_if_changed=True) is None  # this build was processed
    with VulnDB.build(db) as writer:  # generation 2: lodash (not seen by the store)
        writer.replace_source(SourceInfo("t"), [JINJA, LODASH_LOW])
    with VulnDB.build(db) as writer:  # generation 3: its change set names openssl only
        writer.replace_source(SourceInfo("t"), [JINJA, LODASH_LOW, OPENSSL])
    report = rematch_from_vulndb(store, db, only_if_changed=True)
    assert report is not None and report.full
    rules = {f.rule_id for f in list_findings(store)}
    assert rules == {"CVE-2020-28493", "GHSA-lodash", "DSA-0001-1"}
    with VulnDB.build(db) as writer:  # generation 4, seen 3: the change set (none) is exact
        writer.replace_source(SourceInfo("t"), [JINJA, LODASH_LOW, OPENSSL])
    quiet = rematch_from_vulndb(store, db, only_if_changed=True)
    assert quiet is not None and not quiet.full and quiet.package_rows_read == 0
