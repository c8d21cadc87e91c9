"""The dashboard's daily questions walked in a real browser (Debian's chromium), numbers checked against the API.

"Where are we exposed?", "Where is this component?", "What do I fix first?" and
one image's page, on the demo data plus a small estate (``helpers.insights_data``:
images, a host, a container, a partly evaluated image). Screenshots go to
``test-artifacts/dashboard/`` like the other dashboard tests'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from helpers.api_server import Seeded
from helpers.insights_data import APP_TAG, LOG4J_CVE, Estate, build_estate
from shieldwall.api.tokens import Role

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def estate(seeded: Seeded) -> Estate:
    """The estate added to the module's seeded store (next to the demo image)."""
    return build_estate(seeded.store)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, seeded: Seeded, estate: Estate) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=seeded.api.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=seeded.api.url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        log_in(opened, seeded)
        yield opened
    finally:
        context.close()
    assert errors == [], errors  # no script error, nothing blocked by the content security policy


def log_in(page: Page, seeded: Seeded) -> None:
    page.goto("/login")
    page.fill("#token", seeded.api.tokens[Role.VIEWER])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def api(seeded: Seeded) -> httpx.Client:
    return seeded.api.client(Role.VIEWER)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def number(page: Page, selector: str) -> int:
    return int(page.inner_text(selector).strip())


def test_where_are_we_exposed(page: Page, seeded: Seeded) -> None:
    p = page
    p.click("nav >> text=Exposure")
    p.wait_for_selector("#exposure-totals")
    with api(seeded) as client:
        data = client.get("/api/v1/exposure").json()
        overview = client.get("/api/v1/overview").json()
    total = data["total"]
    assert number(p, "#exp-open") == total["open_total"] == overview["open_total"]
    assert number(p, "#exp-new") == total["new"]
    assert number(p, "#exp-fixable") == total["fixable"]
    assert number(p, "#exp-kev") == total["kev"] >= 2
    assert number(p, "#exp-epss") == total["high_epss"]
    assert number(p, "#exp-not-evaluated") == data["not_evaluated_assets"] == 1
    for item in data["slices"]:
        env, kind = item["environment"], item["asset_kind"]
        row = p.locator(f'#exp-slices tr.slice[data-environment="{env}"][data-kind="{kind}"]')
        shown = row.locator(".slice-open").inner_text().strip()
        if item["open_total"] == 0 and item["not_evaluated_assets"]:
            assert shown == "not evaluated"
        else:
            assert int(shown) == item["open_total"]
    assert p.locator("#not-evaluated tr.not-evaluated").count() == 1
    # times are relative, with the exact time on hover
    assert re.search(r"UTC$", p.locator("main time").first.get_attribute("title") or "")
    assert int(p.locator("#exp-trend-chart g.day").last.get_attribute("data-total") or -1) == total["open_total"]
    shot(p, "exposure")
    p.click("#exp-trend >> text=90 d")
    assert p.locator("#exp-trend-chart g.day").count() == 90
    # from a number to the list behind it: the KEV tile opens the vulnerabilities known to be exploited
    p.click("#exp-kev")
    p.wait_for_url(re.compile(r".*/vulnerabilities\?kev=true$"))
    assert int(p.locator("#vuln-table tr.vuln").first.get_attribute("data-findings") or 0) == total["kev"]


def test_where_is_this_component(page: Page, seeded: Seeded, estate: Estate) -> None:
    p = page
    p.click("nav >> text=Components")
    p.fill("#component-q", "log4j-core < 2.17.1")
    with p.expect_navigation():
        p.click("#component-search")
    assert "q=log4j-core" in p.url  # the search is in the URL: it can be bookmarked and shared
    with api(seeded) as client:
        found = client.get("/api/v1/components", params={"q": "log4j-core < 2.17.1"}).json()
    assert number(p, "#component-total") == found["total"]
    assert number(p, "#component-assets") == found["assets"]
    for kind, n in found["assets_by_kind"].items():
        assert number(p, f'.component-kind[data-kind="{kind}"]') == n
    rows = p.locator("#component-table tr.component-hit")
    assert rows.count() == len(found["items"])
    image = p.locator(f"#component-table tr.component-hit[data-asset-id='{estate.app}']")
    assert APP_TAG in image.inner_text() and "team-payments" in image.inner_text()
    assert "log4j-core-2.14.1.jar" in image.inner_text() and "/app/plugins/" in image.inner_text()
    container = p.locator(f"#component-table tr.component-hit[data-asset-id='{estate.container}']")
    assert "runs" in container.inner_text() and APP_TAG in container.inner_text()
    # the digest is on hover and one click copies it
    digest = image.locator("button.copy").get_attribute("data-copy") or ""
    assert digest.startswith("sha256:") and image.locator("a.asset-link").get_attribute("title") == digest
    image.locator("button.copy").click()
    assert p.evaluate("navigator.clipboard.readText()") == digest
    shot(p, "components")
    # an advisory ID: which assets it affects
    p.fill("#component-q", LOG4J_CVE)
    with p.expect_navigation():
        p.click("#component-search")
    with api(seeded) as client:
        affected = client.get("/api/v1/components", params={"q": LOG4J_CVE}).json()
    assert number(p, "#component-total") == affected["total"]
    assert p.locator("#component-table tr.component-hit").count() == len(affected["items"])


def test_what_do_i_fix_first(page: Page, seeded: Seeded) -> None:
    p = page
    p.click("nav >> text=Vulnerabilities")
    with api(seeded) as client:
        data = client.get("/api/v1/vulnerabilities").json()
    assert number(p, "#vuln-total") == data["total_vulnerabilities"]
    assert number(p, "#vuln-findings") == data["total_findings"]
    rows = p.locator("#vuln-table tr.vuln")
    assert rows.count() == min(50, data["total_vulnerabilities"])
    for index, item in enumerate(data["items"]):
        row = rows.nth(index)
        assert row.get_attribute("data-rule") == item["rule_id"]
        assert int(row.get_attribute("data-assets") or -1) == item["assets"]
    assert rows.first.get_attribute("data-rule") == LOG4J_CVE  # known exploited first
    shot(p, "vulnerabilities")
    # filters stay in the URL: choose "fixable" and CRITICAL, apply, reload, same view
    p.select_option("#vuln-fixable", "true")
    p.check("#vuln-filter input[value=CRITICAL]")
    with p.expect_navigation():
        p.click("#vuln-apply")
    assert "fixable=true" in p.url and "severity=CRITICAL" in p.url
    with api(seeded) as client:
        chosen = client.get("/api/v1/vulnerabilities", params={"fixable": "true", "severity": "CRITICAL"}).json()
    p.reload()
    assert number(p, "#vuln-total") == chosen["total_vulnerabilities"]
    assert [r.get_attribute("data-rule") for r in p.locator("#vuln-table tr.vuln").all()] == [
        r["rule_id"] for r in chosen["items"]
    ]
    # from a vulnerability to the assets it affects
    with p.expect_navigation():
        p.locator(f'#vuln-table tr.vuln[data-rule="{LOG4J_CVE}"] a.vuln-assets').click()
    assert number(p, "#component-assets") >= 1


def test_an_image_page_stays_small(page: Page, seeded: Seeded, estate: Estate) -> None:
    p = page
    p.click("nav >> text=Assets")
    link = p.locator(f"#assets-table tr[data-asset-id='{estate.app}'] a.asset-link")
    assert link.inner_text() == APP_TAG and (link.get_attribute("title") or "").startswith("sha256:")
    with p.expect_navigation():
        link.click()
    with api(seeded) as client:
        inventory = client.get(f"/api/v1/assets/{estate.app}/inventory").json()
        groups = client.get(f"/api/v1/assets/{estate.app}/finding-groups").json()
        detail = client.get(f"/api/v1/assets/{estate.app}").json()
    assert number(p, "#inventory-total") == inventory["total"] == detail["packages"]
    assert p.locator("#inventory-table tbody tr").count() == len(inventory["items"]) == 50
    assert number(p, "#group-total") == groups["total"]
    log4j = p.locator(f'#group-table tr.finding-group[data-rule="{LOG4J_CVE}"]')
    assert int(log4j.get_attribute("data-count") or 0) == 2 and log4j.count() == 1  # one row, both jars listed
    height = p.evaluate("document.documentElement.scrollHeight")
    shot(p, "asset-image")
    with p.expect_navigation():
        p.click("#inventory-next")
    assert p.locator("#inventory-table tbody tr").count() == 50
    assert p.evaluate("document.documentElement.scrollHeight") <= height + 200  # a page, not the whole inventory
    # a partly evaluated image says so
    p.goto(f"/assets/{estate.partial}")
    assert "not checked for vulnerabilities" in p.inner_text("#asset-not-evaluated")
    shot(p, "asset-not-evaluated")


def test_findings_found_in_several_files_are_one_row(page: Page, seeded: Seeded, estate: Estate) -> None:
    p = page
    p.click("nav >> text=Findings")
    with p.expect_navigation():
        p.click("#group-by-files")
    assert "group=files" in p.url
    with api(seeded) as client:
        total = client.get("/api/v1/findings", params={"status": "active"}).json()["total"]
    assert number(p, "#findings-total") == total
    rows = p.locator("#grouped-findings-table tr.finding-group")
    assert p.locator("#grouped-findings-table ~ .pager a[rel=next]").count() == 0  # one page holds them all here
    assert sum(int(r.get_attribute("data-count") or 0) for r in rows.all()) == total  # each finding in one row
    assert rows.count() < total
    log4j = p.locator(f'#grouped-findings-table tr.finding-group[data-rule="{LOG4J_CVE}"]')
    assert log4j.count() == 1 and int(log4j.get_attribute("data-count") or 0) == 2
    assert "/app/plugins/log4j-core-2.14.1.jar" in log4j.inner_text()
    shot(p, "findings-grouped")
