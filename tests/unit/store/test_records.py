"""Recording scans: assets, tags, inventories, the findings lifecycle, exceptions, queries."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from helpers.store_data import CRITICAL_VECTOR, DEBIAN_12, deb, image_result, osv, pypi, with_matches
from shieldwall.model import ImageConfig, OSInfo, ScanWarning
from shieldwall.store import FindingStatus, Store
from shieldwall.store.audit import verify
from shieldwall.store.inventory import lookup_keys
from shieldwall.store.queries import (
    add_exception,
    list_assets,
    list_findings,
    parse_severities,
    revoke_exception,
    set_golden,
)
from shieldwall.store.records import TagRef, record_scan
from shieldwall.store.schema import InventoryPackage

ADVISORIES = [
    osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",)),
    osv("DSA-0001-1", "Debian:12", "openssl", "3.0.13-1~deb12u1", cvss=CRITICAL_VECTOR, aliases=("CVE-2024-0001",)),
]
PACKAGES = (
    deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
    deb("bash", "5.2.15-2+b2"),
    pypi("Jinja2", "2.11.2"),
)


def _statuses(store: Store) -> dict[str, str]:
    return {f.rule_id: f.status for f in list_findings(store)}


def test_lookup_keys_follow_the_matcher_plan() -> None:
    keys = lookup_keys(PACKAGES[0], DEBIAN_12)
    assert (keys.ecosystem, keys.name, keys.alt_name) == ("Debian", "openssl", "")
    assert lookup_keys(PACKAGES[2], None).name == "jinja2"
    assert lookup_keys(PACKAGES[0], OSInfo("plan9")).ecosystem == ""


def test_scan_lifecycle_open_fixed_reopened(store: Store) -> None:
    first = record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES), actor="ci")
    assert first.counts["new"] == 2
    assert _statuses(store) == {"CVE-2020-28493": "open", "CVE-2024-0001": "open"}
    upgraded = image_result("aa", (PACKAGES[0], PACKAGES[1], pypi("Jinja2", "2.11.3")))
    second = record_scan(store, with_matches(upgraded, ADVISORIES))
    assert second.counts["gone"] == 1
    assert _statuses(store)["CVE-2020-28493"] == "fixed"
    third = record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES))
    assert third.counts["reopened"] == 1
    row = next(f for f in list_findings(store) if f.rule_id == "CVE-2020-28493")
    assert row.status == "reopened" and row.reopen_count == 1 and row.package == "Jinja2"
    assert verify(store).ok


def test_missing_vulnerability_database_does_not_mark_findings_fixed(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES))
    blind = replace(
        image_result("aa", PACKAGES), warnings=(ScanWarning("vulnerability", "no vulnerability database: run ..."),)
    )
    record_scan(store, blind)
    assert set(_statuses(store).values()) == {"open"}


def test_scanner_families_limit_the_sweep(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES))
    record_scan(store, image_result("aa", PACKAGES), scanners=frozenset({"secret"}))
    assert set(_statuses(store).values()) == {"open"}


def test_inventory_rows_are_replaced_and_indexed(store: Store) -> None:
    record_scan(store, image_result("aa", PACKAGES))
    record_scan(store, image_result("aa", PACKAGES[:2]))
    with store.session() as session:
        rows = session.execute(select(InventoryPackage.ecosystem, InventoryPackage.lookup_name)).all()
    assert sorted(rows) == [("Debian", "bash"), ("Debian", "openssl")]


def test_tags_move_and_inactive_assets(store: Store) -> None:
    record_scan(store, image_result("aa", PACKAGES, tag="latest"))
    record_scan(store, image_result("bb", PACKAGES, tag="latest"))
    assets = {a.identifier[-4:]: a for a in list_assets(store)}
    assert assets["aaaa"].active is False and assets["aaaa"].tags == ()
    assert assets["bbbb"].active is True and assets["bbbb"].tags == ("registry.test/app:latest",)
    record_scan(store, image_result("aa", PACKAGES, tag="1.0"), tags=[TagRef("registry.test/app", "stable")])
    again = {a.identifier[-4:]: a for a in list_assets(store)}
    assert again["aaaa"].active is True
    assert again["aaaa"].tags == ("registry.test/app:1.0", "registry.test/app:stable")


def test_golden_by_label_pattern_and_flag(store: Store) -> None:
    labelled = ImageConfig(labels=(("io.shieldwall.golden", "true"),))
    record_scan(store, image_result("aa", PACKAGES, config=labelled))
    record_scan(store, image_result("bb", PACKAGES, tag="2.0"))
    views = {a.identifier[-4:]: a for a in list_assets(store)}
    assert views["aaaa"].golden and "label" in views["aaaa"].golden_reason
    assert not views["bbbb"].golden
    assert set_golden(store, "registry.test/app:2.0", True, actor="me").golden
    assert not set_golden(store, views["aaaa"].identifier, False).golden
    assert [a.identifier[-4:] for a in list_assets(store, golden=True)] == ["bbbb"]


def test_drift_between_two_digests_of_a_tag(store: Store) -> None:
    old_config = ImageConfig(user="app", env=("PATH=/usr/bin", "MODE=a"), exposed_ports=("80/tcp",))
    new_config = ImageConfig(user="root", env=("PATH=/usr/bin", "MODE=b", "DEBUG=1"), exposed_ports=("22/tcp",))
    record_scan(store, image_result("aa", PACKAGES, tag="prod", config=old_config))
    record = record_scan(
        store, image_result("bb", (PACKAGES[0], pypi("Jinja2", "3.1.4")), tag="prod", config=new_config)
    )
    drift = {f.rule_id: f for f in list_findings(store, kinds=["drift"]) if f.asset.endswith("bbbb")}
    assert record.drift == len([f for f in list_findings(store, kinds=["drift"])])
    titles = sorted(f.title for f in list_findings(store, kinds=["drift"]))
    assert "package Jinja2 2.11.2 -> 3.1.4" in titles
    assert "package bash 5.2.15-2+b2 removed" in titles
    assert "port 22/tcp newly exposed" in titles
    assert "environment variable DEBUG added" in titles
    assert "environment variable MODE changed value" in titles
    assert drift["drift/user-changed"].severity == "HIGH"
    # a rescan of the same digest is no new drift, and does not sweep the recorded drift
    again = record_scan(
        store, image_result("bb", (PACKAGES[0], pypi("Jinja2", "3.1.4")), tag="prod", config=new_config)
    )
    assert again.drift == 0
    assert {f.status for f in list_findings(store, kinds=["drift"])} == {"open"}


def test_exceptions_suppress_and_revoke(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES))
    exception_id = add_exception(store, reason="not reachable", rule_id="CVE-2020-28493", author="alice")
    row = next(f for f in list_findings(store) if f.rule_id == "CVE-2020-28493")
    assert row.status == "suppressed" and row.suppressed_reason == "not reachable"
    assert "alice" in row.suppressed_by
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES))
    assert _statuses(store)["CVE-2020-28493"] == "suppressed"
    assert revoke_exception(store, exception_id, actor="bob") == 1
    assert _statuses(store)["CVE-2020-28493"] == "open"
    assert verify(store).ok


def test_query_filters(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES), environment="prod")
    record_scan(store, with_matches(image_result("bb", PACKAGES[2:], tag="2.0"), ADVISORIES), environment="dev")
    assert len(list_findings(store)) == 3
    assert len(list_findings(store, environment="prod")) == 2
    assert len(list_findings(store, asset="registry.test/app:2.0")) == 1
    assert len(list_findings(store, severities=parse_severities(["high+"]))) == 3
    assert list_findings(store, severities=["LOW"]) == []
    assert len(list_findings(store, statuses=[str(FindingStatus.OPEN)], kinds=["vulnerability"])) == 3
    assert [a.environment for a in list_assets(store, environment="dev")] == ["dev"]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InventoryPackage)) == 4
