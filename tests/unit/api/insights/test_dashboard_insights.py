"""Exposure, components and vulnerabilities: the pages' numbers equal the API's, on SQLite and PostgreSQL.

The estate (``helpers.insights_data``) is stored by the real ``record_scan``;
expected values are recomputed here from the stored findings' documents in
Python (not with the SQL the views use), then compared with the API and with
what the pages render.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers.api_server import api_settings, tokens
from helpers.insights_data import APP_TAG, LOG4J_CVE, LOG4J_PURL, Estate, build_estate
from shieldwall.api.app import create_app
from shieldwall.api.dashboard.timefmt import ago, relative
from shieldwall.api.insights import exposure as exposure_view
from shieldwall.api.insights.components import parse_query, parse_range
from shieldwall.api.tokens import Role
from shieldwall.errors import InputError
from shieldwall.store import Store
from shieldwall.store.records import finding_from_json
from shieldwall.store.schema import StoredFinding


@pytest.fixture
def estate(store: Store) -> Estate:
    return build_estate(store)


@pytest.fixture
def client(store: Store, estate: Estate, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """(an API client with a viewer token, a logged-in browser session) over one app."""
    app = create_app(store, api_settings(tmp_path / "data", tmp_path / "cache"))
    issued = tokens(store)
    with TestClient(app) as browser, TestClient(app) as api:
        api.headers["Authorization"] = f"Bearer {issued[Role.VIEWER]}"
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        done = browser.post(
            "/login", data={"token": issued[Role.VIEWER], "csrf": csrf.group(1), "next": "/"}, follow_redirects=False
        )
        assert done.status_code == 303
        yield api, browser


def by_id(html: str, ident: str) -> str:
    found = re.search(rf'id="{re.escape(ident)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"#{ident} not on the page"
    return found.group(1).strip()


def open_facts(store: Store) -> dict[str, int]:
    """Counts recomputed in Python from the stored documents (independent of the views' SQL)."""
    out = {"open": 0, "kev": 0, "epss": 0, "fixable": 0}
    with store.session() as session:
        for row in session.scalars(select(StoredFinding).where(StoredFinding.status.in_(["open", "reopened"]))):
            finding = finding_from_json(row.data)
            out["open"] += 1
            vuln = finding.vuln
            if row.kind == "vulnerability" and vuln is not None:
                out["kev"] += int(vuln.kev)
                out["epss"] += int(vuln.epss_score is not None and vuln.epss_score >= 0.1)
                out["fixable"] += int(bool(row.fixed_version))
    return out


def test_exposure_numbers_equal_the_api_and_the_stored_findings(
    store: Store, estate: Estate, client: tuple[TestClient, TestClient]
) -> None:
    api, browser = client
    data = api.get("/api/v1/exposure").json()
    facts = open_facts(store)
    assert data["total"]["open_total"] == facts["open"] == api.get("/api/v1/overview").json()["open_total"]
    assert data["total"]["kev"] == facts["kev"] == 2
    assert data["total"]["high_epss"] == facts["epss"] == 2
    assert data["total"]["fixable"] == facts["fixable"]
    assert data["total"]["new"] == facts["open"]  # everything was first seen just now
    assert data["not_evaluated_assets"] == 1 and data["not_evaluated_packages"] == 1
    assert [g["asset_id"] for g in data["not_evaluated"]] == [estate.partial]
    kinds = {(s["environment"], s["asset_kind"]): s for s in data["slices"]}
    assert kinds[("prod", "host")]["open_total"] == 1
    assert kinds[("prod", "container")]["assets"] == 1
    assert kinds[("staging", "image")]["open_total"] == 0
    html = browser.get("/exposure").text
    for ident, key in (("exp-open", "open_total"), ("exp-new", "new"), ("exp-kev", "kev"), ("exp-epss", "high_epss")):
        assert int(by_id(html, ident)) == data["total"][key], ident
    assert int(by_id(html, "exp-fixable")) == data["total"]["fixable"]
    assert int(by_id(html, "exp-not-evaluated")) == 1
    # the staging image has nothing open and was fully evaluated; the partial image is never shown as clean
    assert "registry.test/partial:3" in html and "not evaluated" in html
    assert len(re.findall(r'<g class="day"', html)) == 30
    assert len(re.findall(r'<g class="day"', browser.get("/exposure?days=90").text)) == 90
    assert api.get("/api/v1/exposure?days=7").status_code == 422


def test_new_since_yesterday_moves_with_time(store: Store, estate: Estate) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert exposure_view.exposure(store, now=later).total.new == 0
    assert exposure_view.exposure(store).total.new == open_facts(store)["open"]


def test_a_not_evaluated_slice_is_not_shown_as_clean(store: Store, estate: Estate) -> None:
    data = exposure_view.exposure(store)
    prod_images = next(s for s in data.slices if s.environment == "prod" and s.asset_kind == "image")
    assert prod_images.not_evaluated_assets == 1


def test_component_search_by_name_range_purl_and_advisory(
    estate: Estate, client: tuple[TestClient, TestClient]
) -> None:
    api, browser = client
    found = api.get("/api/v1/components", params={"q": "log4j-core < 2.17.1"}).json()
    assert found["assets_by_kind"] == {"container": 1, "image": 1}
    image = next(h for h in found["items"] if h["asset_kind"] == "image")
    assert image["asset_id"] == estate.app and image["asset"] == APP_TAG
    assert image["owner"] == "team-payments" and image["environment"] == "prod"
    assert image["location_count"] == 2  # two jars: one row listing both locations
    container = next(h for h in found["items"] if h["asset_kind"] == "container")
    assert container["asset_id"] == estate.container and container["via_image_id"] == estate.app
    assert container["owner"] == "team-payments"  # the image's owner: the container names none
    # the fixed version is outside the range; without a range both images hold the package
    assert estate.other not in {h["asset_id"] for h in found["items"]}
    every = api.get("/api/v1/components", params={"q": LOG4J_PURL}).json()
    assert {h["asset_id"] for h in every["items"]} == {estate.app, estate.other, estate.container}
    pinned = api.get("/api/v1/components", params={"q": f"{LOG4J_PURL}@2.17.1"}).json()
    assert {h["asset_id"] for h in pinned["items"]} == {estate.other}
    ranged = api.get("/api/v1/components", params={"q": "log4j-core", "range": ">=2.0,<2.17.1"}).json()
    assert ranged["total"] == found["total"]
    advisory = api.get("/api/v1/components", params={"q": LOG4J_CVE}).json()
    assert advisory["query"]["mode"] == "advisory"
    hit = next(h for h in advisory["items"] if h["asset_kind"] == "image")
    assert hit["asset_id"] == estate.app and len(hit["finding_ids"]) == 2 and hit["fixed_version"] == "2.17.1"
    host = api.get("/api/v1/components", params={"q": "openssl"}).json()
    assert host["assets_by_kind"]["host"] == 1
    html = browser.get("/components", params={"q": "log4j-core < 2.17.1"}).text
    assert int(by_id(html, "component-total")) == found["total"]
    assert int(by_id(html, "component-assets")) == found["assets"]
    assert html.count('class="component-hit"') == len(found["items"])
    assert f'data-copy="{image["digest"]}"' in html
    bad = api.get("/api/v1/components", params={"q": "log4j-core", "range": "about 2"})
    assert bad.status_code == 400
    assert "invalid version constraint" in browser.get("/components", params={"q": "x", "range": "~1"}).text


def test_a_version_the_scheme_cannot_compare_is_kept_and_marked(store: Store, estate: Estate) -> None:
    from shieldwall.api.insights.components import search_components

    result = search_components(store, parse_query("requests", "<not a version".replace(" ", "-")))
    # PEP 440 cannot parse the bound: every requests row is kept, marked not comparable, and the reason is said
    assert result.total >= 2 and result.not_comparable == result.total
    assert {h.asset_id for h in result.items} >= {estate.app, estate.other}
    assert any("PyPI" in w for w in result.warnings)


def test_parse_range_and_query() -> None:
    assert [(c.op, c.version) for c in parse_range(">= 2.0, < 2.17.1")] == [(">=", "2.0"), ("<", "2.17.1")]
    assert parse_query("CVE-2021-44228").mode == "advisory"
    assert parse_query("GHSA-jfh8-c2jp-5v3q").mode == "advisory"
    assert parse_query("pkg:npm/left-pad@1.0.0").constraints[0].version == "1.0.0"
    assert parse_query("requests").mode == "package"
    with pytest.raises(InputError):
        parse_range("2.0")
    with pytest.raises(InputError):
        parse_query("  ")


def test_vulnerabilities_grouped_with_filters_in_the_url(estate: Estate, client: tuple[TestClient, TestClient]) -> None:
    api, browser = client
    data = api.get("/api/v1/vulnerabilities").json()
    assert data["total_findings"] == api.get("/api/v1/exposure").json()["total"]["by_kind"]["vulnerability"]
    first = data["items"][0]
    assert first["rule_id"] == LOG4J_CVE  # priority: known exploited first
    assert (first["assets"], first["findings"], first["kev"], first["epss"]) == (1, 2, True, 0.94)
    assert first["fixed_versions"] == ["2.17.1"] and first["layers"][0]["index"] == 1
    openssl = next(r for r in data["items"] if r["rule_id"] == "DSA-5000-1")
    assert openssl["assets"] == 2  # the image and the host
    kev = api.get("/api/v1/vulnerabilities", params={"kev": "true"}).json()
    assert [r["rule_id"] for r in kev["items"]] == [LOG4J_CVE]
    hosts = api.get("/api/v1/vulnerabilities", params={"asset_kind": "host"}).json()
    assert [r["rule_id"] for r in hosts["items"]] == ["DSA-5000-1"]
    paged = api.get("/api/v1/vulnerabilities", params={"per_page": 1, "page": 2, "sort": "id"}).json()
    assert paged["pages"] == data["total_vulnerabilities"] and len(paged["items"]) == 1
    html = browser.get("/vulnerabilities?kev=true").text
    assert int(by_id(html, "vuln-total")) == kev["total_vulnerabilities"] == 1
    assert 'data-rule="CVE-2021-44228" data-assets="1" data-findings="2"' in html
    html = browser.get("/vulnerabilities").text
    assert int(by_id(html, "vuln-total")) == data["total_vulnerabilities"]
    assert int(by_id(html, "vuln-findings")) == data["total_findings"]
    # a filter that is no filter is ignored by the page (the API refuses it)
    assert browser.get("/vulnerabilities?epss_min=nan&sort=nope").status_code == 200
    assert api.get("/api/v1/vulnerabilities", params={"epss_min": "nan"}).status_code == 422


def test_asset_page_is_bounded_grouped_and_named(estate: Estate, client: tuple[TestClient, TestClient]) -> None:
    api, browser = client
    html = browser.get(f"/assets/{estate.app}").text
    assert int(by_id(html, "inventory-total")) == estate.app_packages
    rows = re.search(r'id="inventory-table".*?<tbody>(.*?)</tbody>', html, re.S)
    assert rows is not None and rows.group(1).count("<tr>") == 50
    inventory = api.get(f"/api/v1/assets/{estate.app}/inventory", params={"page": 3}).json()
    assert inventory["total"] == estate.app_packages and len(inventory["items"]) == estate.app_packages - 100
    page3 = browser.get(f"/assets/{estate.app}?pkg_page=3").text
    assert re.search(r'id="inventory-table".*?<tbody>(.*?)</tbody>', page3, re.S).group(1).count("<tr>") == 24  # type: ignore[union-attr]
    groups = api.get(f"/api/v1/assets/{estate.app}/finding-groups").json()
    log4j = next(g for g in groups["items"] if g["rule_id"] == LOG4J_CVE)
    assert log4j["count"] == 2 and len(log4j["locations"]) == 2
    assert int(by_id(html, "group-total")) == groups["total"] == 3
    assert html.count('class="finding-group"') == 3
    assert f">{APP_TAG}<" in html and "copy digest" in html  # the name, the digest on hover and copy
    layers = api.get(f"/api/v1/assets/{estate.app}/layer-summary").json()
    assert sum(layer["findings"] for layer in layers) == api.get(f"/api/v1/assets/{estate.app}").json()["open_findings"]
    filtered = browser.get(f"/assets/{estate.app}?pkg_q=filler01").text
    assert int(by_id(filtered, "inventory-total")) == 10
    partial = browser.get(f"/assets/{estate.partial}").text
    assert "asset-not-evaluated" in partial and "Not evaluated" in partial
    assert api.get(f"/api/v1/assets/{estate.partial}/evaluation").json()["packages"] == 1
    assert api.get(f"/api/v1/assets/{estate.app}/evaluation").json() is None


def test_lists_show_names_and_relative_times(estate: Estate, client: tuple[TestClient, TestClient]) -> None:
    _, browser = client
    assets = browser.get("/assets").text
    assert f">{APP_TAG}</a>" in assets and "sha256:abab" in assets  # name shown, digest in the title / copy button
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+ UTC\">(just now|\d+ min ago)</time>", assets)
    findings = browser.get("/findings?status=active").text
    assert f">{APP_TAG}</a>" in findings


def test_relative_times() -> None:
    now = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
    assert relative(now - dt.timedelta(hours=3, minutes=5), now) == "3 h ago"
    assert relative(now - dt.timedelta(days=2), now) == "2 d ago"
    assert relative(now + dt.timedelta(days=4), now) == "in 4 d"
    assert relative(now - dt.timedelta(seconds=5), now) == "just now"
    html = str(ago("2026-01-10T09:00:00+00:00", now))
    assert 'title="2026-01-10 09:00:00 UTC"' in html and ">3 h ago<" in html
    assert str(ago("<b>", now)) == "&lt;b&gt;"


def test_an_asset_page_does_not_grow_with_its_inventory(
    store: Store, estate: Estate, client: tuple[TestClient, TestClient]
) -> None:
    from helpers.store_data import image_result, pypi
    from shieldwall.store.records import record_scan

    big = record_scan(store, image_result("f0", tuple(pypi(f"big{i:04d}", "1.0") for i in range(1500)))).asset_id
    _, browser = client
    small_html = browser.get(f"/assets/{estate.other}").text  # 2 packages
    big_html = browser.get(f"/assets/{big}").text  # 1,500 packages
    assert int(by_id(big_html, "inventory-total")) == 1500
    assert big_html.count('title="pkg:pypi/big') == 50  # one page of the inventory, not all of it
    assert len(big_html) < len(small_html) + 50 * 1200  # at most one page of rows more than a tiny image


def test_the_asset_list_is_paginated_and_filtered_by_kind(
    store: Store, estate: Estate, client: tuple[TestClient, TestClient]
) -> None:
    from helpers.store_data import image_result, pypi
    from shieldwall.store.records import record_scan

    for i in range(50):
        record_scan(store, image_result(f"{i + 16:02x}", (pypi("x", "1.0"),), repository=f"registry.test/r{i}"))
    api, browser = client
    every = api.get("/api/v1/assets").json()
    first = browser.get("/assets").text
    assert int(by_id(first, "assets-count")) == len(every) == 55
    assert first.count('<tr class="asset') == 50
    second = browser.get("/assets?page=2").text
    assert second.count('<tr class="asset') == len(every) - 50
    hosts = browser.get("/assets?kind=host").text
    assert int(by_id(hosts, "assets-count")) == 1 and f'data-asset-id="{estate.host}"' in hosts


def test_findings_grouped_by_file_location(estate: Estate, client: tuple[TestClient, TestClient]) -> None:
    api, browser = client
    listed = api.get("/api/v1/findings", params={"status": "active", "limit": 500}).json()
    html = browser.get("/findings?status=active&group=files").text
    assert int(by_id(html, "findings-total")) == listed["total"]
    rows = re.findall(r'<tr class="finding-group" data-rule="([^"]+)" data-asset-id="(\d+)" data-count="(\d+)"', html)
    assert sum(int(n) for _, _, n in rows) == listed["total"]  # every finding in exactly one row
    log4j = [r for r in rows if r[0] == LOG4J_CVE]
    assert log4j == [(LOG4J_CVE, str(estate.app), "2")]  # the two jars: one row
    assert int(by_id(html, "group-total")) == len(rows) == listed["total"] - 1
    assert "/app/lib/log4j-core-2.14.1.jar" in html and "/app/plugins/log4j-core-2.14.1.jar" in html
