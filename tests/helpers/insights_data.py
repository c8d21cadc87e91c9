"""A small estate for the exposure, components and vulnerabilities views: images, a host, a container.

- ``app`` (prod, owner ``team-payments``): log4j-core 2.14.1 in two jars (CVE-2021-44228, known
  exploited, EPSS 0.94), requests 2.0.0 (a CRITICAL advisory), openssl 3.0.0 (a Debian advisory),
  and ``extra`` filler Python packages (so its inventory spans pages);
- ``other`` (staging): log4j-core 2.17.1 (fixed) and requests 2.32.0: no findings for them;
- a host ``web-1`` (prod) with openssl 3.0.0;
- a container on ``web-1`` running ``registry.test/app:1.0``;
- ``partial`` (prod): scanned without a complete advisory database: packages not evaluated.

Everything is computed by the real matcher and stored by the real ``record_scan``; only the KEV
and EPSS values are set on the log4j findings by hand (the vulnerability database would copy them).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

from helpers.store_data import CRITICAL_VECTOR, DEBIAN_12, LAYERS, deb, image_result, osv, pypi, with_matches
from shieldwall.model import Location, Package, PackageType, ScanResult, ScanWarning, Target, TargetKind, TargetRef
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.store.schema import Asset

LOG4J = "org.apache.logging.log4j:log4j-core"
LOG4J_CVE = "CVE-2021-44228"
LOG4J_PURL = "pkg:maven/org.apache.logging.log4j/log4j-core"
APP_TAG = "registry.test/app:1.0"


@dataclass(frozen=True, slots=True)
class Estate:
    """The IDs of what ``build_estate`` stored."""

    app: int
    other: int
    host: int
    container: int
    partial: int
    app_packages: int


def log4j(version: str, path: str) -> Package:
    """A log4j-core jar of layer 1."""
    return Package(
        PackageType.MAVEN,
        LOG4J,
        version,
        f"{LOG4J_PURL}@{version}",
        locations=(Location(path, LAYERS[1]),),
        found_by="java",
        introduced_by=LAYERS[1],
    )


ADVISORIES = [
    osv("GHSA-jfh8-c2jp-5v3q", "Maven", LOG4J, "2.17.1", cvss=CRITICAL_VECTOR, aliases=(LOG4J_CVE,)),
    osv("GHSA-reqs-0000-0000", "PyPI", "requests", "2.31.0", cvss=CRITICAL_VECTOR, aliases=("CVE-2023-32681",)),
    osv("DSA-5000-1", "Debian:12", "openssl", "3.0.9"),
]


def _prioritised(result: ScanResult) -> ScanResult:
    findings = tuple(
        replace(f, vuln=replace(f.vuln, kev=True, kev_date_added="2021-12-10", epss_score=0.94, epss_percentile=0.99))
        if f.rule_id == LOG4J_CVE and f.vuln is not None
        else f
        for f in result.findings
    )
    return replace(result, findings=findings)


def _host_result() -> ScanResult:
    target = Target(TargetRef(TargetKind.DIRECTORY, "/"), "web-1")
    return ScanResult(
        target=target, layers=(), image=None, os=DEBIAN_12, packages=(deb("openssl", "3.0.0"),),
        started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:00:01+00:00", tool_version="test",
    )  # fmt: skip


def _partial_result() -> ScanResult:
    marked = replace(pypi("flask", "0.1"), metadata=(("vulnerability", "not evaluated: no advisory data for PyPI"),))
    result = image_result("ee", (marked,), repository="registry.test/partial", tag="3")
    warning = ScanWarning("vulnerability", "not evaluated: no advisory data for PyPI (1 package)")
    return replace(result, warnings=(warning,))


def build_estate(store: Store, *, extra: int = 120) -> Estate:
    """Store the estate described in the module docstring."""
    filler = tuple(pypi(f"filler{i:03d}", "1.0") for i in range(extra))
    app_packages = (
        log4j("2.14.1", "/app/lib/log4j-core-2.14.1.jar"),
        log4j("2.14.1", "/app/plugins/log4j-core-2.14.1.jar"),
        pypi("requests", "2.0.0"),
        deb("openssl", "3.0.0"),
        *filler,
    )
    app = with_matches(image_result("ab", app_packages, repository="registry.test/app", tag="1.0"), ADVISORIES)
    app = replace(
        app,
        image=replace(app.image, labels=(("org.opencontainers.image.vendor", "ACME"), ("owner", "team-payments")))
        if app.image
        else None,
    )
    other_packages = (log4j("2.17.1", "/srv/log4j-core-2.17.1.jar"), pypi("requests", "2.32.0"))
    other = with_matches(image_result("cd", other_packages, repository="registry.test/other", tag="2"), ADVISORIES)
    app_id = record_scan(store, _prioritised(app), environment="prod").asset_id
    other_id = record_scan(store, other, environment="staging").asset_id
    host_id = record_scan(store, with_matches(_host_result(), ADVISORIES), environment="prod").asset_id
    partial_id = record_scan(store, _partial_result(), environment="prod").asset_id
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        container = Asset(
            kind="container", identifier="container:web-1/0123456789ab", name="payments-api",
            repository="registry.test/app", golden_auto=False, golden_reason="",
            labels=json.dumps({"host": "web-1", "image": APP_TAG}), platform="", active=True,
            first_seen=now, last_seen=now,
        )  # fmt: skip
        session.add(container)
        session.flush()
        container_id = container.id
        env_id = session.get(Asset, app_id).environment_id  # type: ignore[union-attr]
        container.environment_id = env_id
    return Estate(app_id, other_id, host_id, container_id, partial_id, len(app_packages))
