"""The overview's and findings page's numbers equal a plain count over every stored finding (both backends).

The overview reads its counts, suppressed total and trend from one grouped
pass, and the findings page orders IDs before loading rows; this test
recomputes each number finding by finding in Python and compares.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select, update

from helpers.store_data import CRITICAL_VECTOR, MEDIUM_VECTOR, deb, image_result, osv, pypi, with_matches
from shieldwall.api import queries
from shieldwall.model import Severity
from shieldwall.store import FindingStatus, Store
from shieldwall.store.records import record_scan
from shieldwall.store.schema import StoredFinding

PACKAGES = (
    deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"),
    deb("libc6", "2.36-9", "glibc", "2.36-9"),
    pypi("Jinja2", "2.11.2"),
    pypi("requests", "2.25.1"),
)
ADVISORIES = [
    osv("DEBIAN-CVE-1", "Debian:12", "zlib", "1:1.2.13.dfsg-2", cvss=CRITICAL_VECTOR),
    osv("DEBIAN-CVE-2", "Debian:12", "glibc", "2.36-10", cvss=MEDIUM_VECTOR),
    osv("PYSEC-1", "PyPI", "jinja2", "2.11.3", cvss=MEDIUM_VECTOR),
    osv("PYSEC-2", "PyPI", "requests", "2.31.0", cvss=CRITICAL_VECTOR),
    osv("PYSEC-3", "PyPI", "requests", "2.32.0"),
]
ACTIVE = (str(FindingStatus.OPEN), str(FindingStatus.REOPENED))


def _spread(store: Store, today: dt.date) -> list[StoredFinding]:
    """Give the findings different first-seen/fixed days and statuses (fixed before and inside the window)."""
    with store.session() as session:
        ids = list(session.scalars(select(StoredFinding.id).order_by(StoredFinding.id)))
        for n, finding_id in enumerate(ids):
            seen = dt.datetime.combine(today - dt.timedelta(days=40 - 3 * n), dt.time(13, 30))
            values: dict[str, object] = {"first_seen": seen}
            if n % 4 == 1:
                values |= {"status": str(FindingStatus.FIXED), "fixed_at": seen + dt.timedelta(days=5)}
            elif n % 4 == 2:
                values |= {"status": str(FindingStatus.SUPPRESSED)}
            elif n % 4 == 3:
                values |= {"status": str(FindingStatus.REOPENED)}
            session.execute(update(StoredFinding).where(StoredFinding.id == finding_id).values(**values))
    with store.session() as session:
        return list(session.scalars(select(StoredFinding)))


def test_overview_and_findings_page_match_a_plain_count(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", PACKAGES), ADVISORIES), environment="prod")
    record_scan(store, with_matches(image_result("bb", PACKAGES[2:], tag="2.0"), ADVISORIES[2:]))
    record_scan(store, with_matches(image_result("cc", PACKAGES[:2], tag="3.0"), ADVISORIES[:2]))
    today = dt.datetime.now(dt.UTC).date()
    rows = _spread(store, today)
    assert len(rows) >= 10
    active = [r for r in rows if r.status in ACTIVE]
    data = queries.overview(store, days=30)
    by_severity = Counter(r.severity for r in active)
    assert data.open_by_severity == {s: by_severity.get(s, 0) for s in queries.SEVERITY_ORDER}
    assert data.open_by_kind == dict(sorted(Counter(r.kind for r in active).items()))
    assert data.open_total == len(active)
    assert data.suppressed == sum(r.status == str(FindingStatus.SUPPRESSED) for r in rows) > 0
    assert queries.open_counts(store) == (data.open_by_severity, data.open_by_kind)
    first_day = today - dt.timedelta(days=29)
    for offset, point in enumerate(data.trend):
        day = first_day + dt.timedelta(days=offset)
        expected = Counter(
            r.severity
            for r in rows
            if r.status != str(FindingStatus.SUPPRESSED)
            and r.first_seen.date() <= day
            and (r.fixed_at is None or r.fixed_at.date() > day)
        )
        assert point.day == day.isoformat()
        assert point.counts == {s: expected.get(s, 0) for s in queries.SEVERITY_ORDER}, day
    assert data.trend == queries.trend(store, 30, today=today)
    assert sum(data.trend[-1].counts.values()) == len(active)
    # the findings page: severity order, then ID, page by page, with the same total
    filt = queries.FindingFilter(statuses=ACTIVE)
    rank = {str(s): s.rank for s in Severity}
    expected_ids = [r.id for r in sorted(active, key=lambda r: (rank.get(r.severity, 0), r.id), reverse=True)]
    seen: list[int] = []
    cursor = ""
    for _ in range(20):
        page = queries.page_findings(store, filt, limit=2, cursor=cursor)
        seen += [f.id for f in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == expected_ids
    assert queries.count_findings(store, filt) == len(active)
    prod = queries.FindingFilter(statuses=ACTIVE, environment="prod")
    prod_ids = [f.id for f in queries.page_findings(store, prod, limit=100).items]
    assert queries.count_findings(store, prod) == len(prod_ids) > 0
    assert set(prod_ids) < set(expected_ids)
