"""The API's read side over a small hand-made store: cursor pages, search, layers, trend, stored results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from helpers.store_data import CRITICAL_VECTOR, MEDIUM_VECTOR, deb, image_result, osv, pypi, with_matches
from shieldwall.api import queries
from shieldwall.api.stored_result import stored_result
from shieldwall.errors import InputError
from shieldwall.store import Store
from shieldwall.store.records import record_scan

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


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "key.pem")
    record_scan(opened, with_matches(image_result("aa", PACKAGES), ADVISORIES), environment="prod")
    record_scan(opened, with_matches(image_result("bb", PACKAGES[2:], tag="2.0"), ADVISORIES[2:]))
    return opened


@pytest.mark.parametrize("sort", list(queries.FindingSort))
@pytest.mark.parametrize("descending", [True, False])
def test_pages_cover_everything_once(store: Store, sort: queries.FindingSort, descending: bool) -> None:
    filt = queries.FindingFilter()
    total = queries.count_findings(store, filt)
    assert total == 8
    seen: list[int] = []
    cursor = ""
    for _ in range(10):
        page = queries.page_findings(store, filt, sort=sort, descending=descending, limit=3, cursor=cursor)
        seen += [f.id for f in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(set(seen)) and len(seen) == total


def test_cursors_are_opaque_and_checked(store: Store) -> None:
    first = queries.page_findings(store, queries.FindingFilter(), limit=2)
    assert first.next_cursor and "severity" not in first.next_cursor
    with pytest.raises(InputError):
        queries.page_findings(store, queries.FindingFilter(), sort=queries.FindingSort.ID, cursor=first.next_cursor)
    for bad in ("x", "W10", queries.encode_cursor("severity", True, "high", 1)):
        with pytest.raises(InputError):
            queries.page_findings(store, queries.FindingFilter(), cursor=bad)


def test_search_and_filters(store: Store) -> None:
    def ids(**kwargs: object) -> set[str]:
        page = queries.page_findings(store, queries.FindingFilter(**kwargs), limit=100)  # type: ignore[arg-type]
        return {f.rule_id for f in page.items}

    assert ids(q="REQUESTS") == {"PYSEC-2", "PYSEC-3"}
    assert ids(q="100%") == set()  # LIKE wildcards are literal
    assert ids(severities=("CRITICAL",)) == {"DEBIAN-CVE-1", "PYSEC-2"}
    assert ids(environment="prod", kinds=("vulnerability",)) == {f"DEBIAN-CVE-{i}" for i in (1, 2)} | {
        "PYSEC-1",
        "PYSEC-2",
        "PYSEC-3",
    }


def test_layers_show_what_each_layer_introduced(store: Store) -> None:
    layers = queries.asset_layers(store, 1)
    assert [layer.index for layer in layers] == [0, 1]
    assert {p.name for p in layers[0].packages} == {"zlib1g", "libc6"}
    assert {f.rule_id for f in layers[1].findings} == {"PYSEC-1", "PYSEC-2", "PYSEC-3"}
    with pytest.raises(queries.NotFoundError):
        queries.asset_layers(store, 99)


def test_the_trend_ends_with_todays_open_count(store: Store) -> None:
    points = queries.trend(store, 7)
    assert len(points) == 7 and points[-1].total == queries.overview(store).open_total == 8
    assert all(p.total == 0 for p in queries.trend(store, 3, today=dt.date(2000, 1, 1)))


def test_a_stored_result_rebuilds_packages_and_current_findings(store: Store) -> None:
    result = stored_result(store, 1)
    assert {p.name for p in result.packages} == {p.name for p in PACKAGES}
    assert {f.rule_id for f in result.findings} == {a.id for a in ADVISORIES}
    assert result.image is not None and result.image.user == "app"
