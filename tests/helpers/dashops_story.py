"""A small story in a store for the "changes, decisions, actions" pages: a rebuilt tag, a resolved finding,
exceptions that expire soon, have expired or never expire, and a VEX statement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from helpers.store_data import CRITICAL_VECTOR, MEDIUM_VECTOR, deb, image_result, osv, pypi, with_matches
from shieldwall.model import Finding, FindingKind, Severity, Suppression
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.records import record_scan
from shieldwall.store.schema import ExceptionRule

JINJA = osv("GHSA-jinja", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))
OPENSSL = osv("DEBIAN-openssl", "Debian:12", "openssl", "3.0.2", cvss=MEDIUM_VECTOR)


@dataclass(frozen=True, slots=True)
class Story:
    """IDs the tests look at."""

    old_image: int
    new_image: int
    other: int
    first_scan: int
    rescan: int
    rebuild_scan: int


def vex_finding(expires: str) -> Finding:
    """A finding a VEX statement sets aside (owner, reason, expiry kept with it)."""
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule_id="CVE-2099-0001",
        title="reachable only in theory",
        severity=Severity.HIGH,
        fingerprint_material="vex-case",
        suppressions=(
            Suppression(
                kind="vex",
                rule="CVE-2099-0001",
                reason="vulnerable code not in execute path",
                source="vex/app.openvex.json",
                author="alice@example.com",
                expires=expires,
                statement=(("status", "not_affected"),),
            ),
        ),
    )


def build_story(store: Store) -> Story:
    """Record the scans and exceptions of the story."""
    old = image_result("aa", (deb("openssl", "3.0.1"), pypi("jinja2", "2.10")), tag="1.0")
    first = record_scan(store, with_matches(old, [JINJA, OPENSSL]), trigger="test")
    rescan = record_scan(store, with_matches(old, [JINJA]), trigger="test")  # the openssl advisory was withdrawn
    new = image_result("bb", (deb("openssl", "3.0.2"), pypi("jinja2", "2.10"), pypi("flask", "2.0.1")), tag="1.0")
    rebuilt = record_scan(store, with_matches(new, [JINJA, OPENSSL]), trigger="test")
    soon = (utcnow() + dt.timedelta(days=3)).date().isoformat()
    other = image_result("cc", (pypi("jinja2", "2.10"),), repository="registry.test/other", tag="2")
    other = replace(with_matches(other, [JINJA]), findings=(*with_matches(other, [JINJA]).findings, vex_finding(soon)))
    third = record_scan(store, other, trigger="test")
    now = utcnow()
    with store.session() as session:
        session.add_all(
            [
                ExceptionRule(
                    rule_id="GHSA-jinja",
                    asset_id=third.asset_id,
                    reason="patched in the fork",
                    author="bob",
                    created_at=now,
                    expires_at=now + dt.timedelta(days=5),
                ),
                ExceptionRule(
                    rule_id="GHSA-old",
                    reason="tolerated last quarter",
                    author="carol",
                    created_at=now - dt.timedelta(days=100),
                    expires_at=now - dt.timedelta(days=2),
                ),
                ExceptionRule(package_name="zlib", reason="not shipped", author="dave", created_at=now),
                ExceptionRule(
                    rule_id="GHSA-far",
                    reason="later",
                    author="erin",
                    created_at=now,
                    expires_at=now + dt.timedelta(days=200),
                ),
            ]
        )
    record_scan(store, other, trigger="test")  # the new exception now sets the jinja2 finding of "other" aside
    return Story(first.asset_id, rebuilt.asset_id, third.asset_id, first.scan_id, rescan.scan_id, rebuilt.scan_id)
