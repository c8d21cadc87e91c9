"""The dashboard in a real browser: Playwright driving Debian's chromium against the real server.

Nothing is downloaded: the browser is ``/usr/bin/chromium`` (``.ci/run``
installs the ``chromium`` package). Screenshots of every page are written to
``test-artifacts/dashboard/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from helpers.api_server import Seeded
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

# One backend is enough for the browser: the pages read the same functions the API tests cover on both.
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)]


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
def page_errors() -> list[str]:
    """Script errors and console errors of the test's page (a test that provokes one clears it)."""
    return []


@pytest.fixture
def page(browser: Browser, seeded: Seeded, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=seeded.api.url)
    opened = context.new_page()
    errors = page_errors
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "console", lambda msg: errors.append(msg.text) if msg.type == "error" and not _expected(msg.text) else None
    )
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors  # no script error, no blocked resource (the CSP would report one)


def _expected(message: str) -> bool:
    # pages answered 401/403 on purpose (a wrong token, a forged POST) are logged by the browser too
    return message.startswith("Failed to load resource: the server responded with a status of 40")


def log_in(page: Page, seeded: Seeded, role: Role) -> None:
    page.goto("/")
    assert "/login" in page.url
    page.fill("#token", seeded.api.tokens[role])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(seeded: Seeded, role: Role = Role.VIEWER) -> httpx.Client:
    return seeded.api.client(role)


def test_log_in_and_the_overview_numbers_match_the_api(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded, Role.VIEWER)
    p = page
    assert p.inner_text("#who").startswith("test-viewer")
    with api(seeded) as client:
        overview = client.get("/api/v1/overview").json()
    assert int(p.inner_text("#open-total")) == overview["open_total"]
    for severity, count in overview["open_by_severity"].items():
        assert int(p.inner_text(f"a.open-count[data-severity={severity}]")) == count
    for kind, count in overview["open_by_kind"].items():
        assert int(p.inner_text(f'a.kind-count[data-kind="{kind}"]')) == count
    assert int(p.inner_text("#assets-total")) == overview["assets"]
    bars = p.locator("#severity-chart rect.bar")
    assert bars.count() == 5
    last_day = p.locator("#trend-chart g.day").last
    assert int(last_day.get_attribute("data-total")) == overview["open_total"]
    assert p.locator("#rematch tr.rematch-hit").count() == len(overview["rematch"]) >= 1
    assert re.search(r"\d+(\.\d)? (minutes|hours|days)", p.inner_text("#db-age"))
    shot(p, "overview")
    # print CSS: the navigation and forms disappear, the numbers stay
    p.emulate_media(media="print")
    assert not p.is_visible("header.top") and p.is_visible("#open-total")
    p.pdf(path=str(ARTIFACTS / "overview.pdf"))
    assert (ARTIFACTS / "overview.pdf").stat().st_size > 1000


def test_a_wrong_token_is_refused_and_log_out_ends_the_session(page: Page, seeded: Seeded) -> None:
    p = page
    p.goto("/login")
    p.fill("#token", "swt_000000000000_" + "x" * 43)
    p.click("#login-form button[type=submit]")
    assert "Invalid or revoked token" in p.inner_text("#login-error")
    shot(p, "login")
    log_in(p, seeded, Role.VIEWER)
    cookie = next(c for c in p.context.cookies() if c["name"] == "sw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert p.evaluate("document.cookie") == ""  # invisible to scripts
    p.click("#logout")
    p.wait_for_url(re.compile(r".*/login$"))
    p.goto("/findings")
    assert "/login?next=%2Ffindings" in p.url


def test_filter_and_search_findings(page: Page, seeded: Seeded) -> None:
    p = page
    log_in(p, seeded, Role.VIEWER)
    p.click("nav >> text=Findings")
    p.check("input[name=severity][value=HIGH]")
    p.select_option("#filter-kind", "vulnerability")
    p.click("#filter-apply")
    p.wait_for_url(re.compile(r".*severity=HIGH.*"))
    rows = p.locator("#findings-table tr.finding")
    with api(seeded) as client:
        expected = client.get(
            "/api/v1/findings", params={"severity": "HIGH", "kind": "vulnerability", "status": "active"}
        ).json()
    assert rows.count() == expected["total"] == int(p.inner_text("#findings-total")) > 0
    assert {rows.nth(i).get_attribute("data-severity") for i in range(rows.count())} == {"HIGH"}
    assert {rows.nth(i).get_attribute("data-kind") for i in range(rows.count())} == {"vulnerability"}
    shot(p, "findings-filtered")
    p.uncheck("input[name=severity][value=HIGH]")
    p.select_option("#filter-kind", "")
    p.fill("#filter-q", "werkzeug")
    p.click("#filter-apply")
    p.wait_for_url(re.compile(r".*q=werkzeug.*"))
    texts = [t.lower() for t in rows.all_inner_texts()]
    assert texts and all("werkzeug" in t for t in texts)
    p.goto("/findings?status=")
    shot(p, "findings")


def test_create_an_exception_and_the_finding_moves_to_suppressed(page: Page, seeded: Seeded) -> None:
    p = page
    with api(seeded) as client:
        target = client.get("/api/v1/findings", params={"q": "CVE-2021-3749", "status": "active"}).json()["items"][0]
    log_in(p, seeded, Role.OPERATOR)
    p.goto(f"/findings/{target['id']}")
    assert p.get_attribute("#finding-status", "data-status") == "open"
    assert p.locator("#evidence dl.evidence").count() >= 1
    p.fill("#reason", "axios only calls our own API: no untrusted input reaches trim")
    p.fill("#expires", "2099-06-30")
    p.click("#exception-submit")
    p.wait_for_selector("#form-done")
    assert p.get_attribute("#finding-status", "data-status") == "suppressed"
    assert "axios only calls our own API" in p.inner_text("#finding-status")
    history = p.locator("#exceptions tr.exception")
    assert history.count() == 1 and history.first.get_attribute("data-state") == "active"
    assert "2099-06-30" in history.first.inner_text()
    shot(p, "finding-suppressed")
    with api(seeded) as client:
        assert client.get(f"/api/v1/findings/{target['id']}").json()["status"] == "suppressed"
    p.goto("/findings?status=suppressed")
    assert p.locator(f"#findings-table tr.finding[data-id='{target['id']}']").count() == 1
    # revoke it again from the page (confirming the dialog)
    p.goto(f"/findings/{target['id']}")
    p.once("dialog", lambda dialog: dialog.accept())
    p.click("#exceptions form.confirm button")
    p.wait_for_selector("#exceptions tr.exception[data-state=revoked]")
    assert p.get_attribute("#finding-status", "data-status") == "open"


def test_a_viewer_gets_no_exception_form_and_cannot_post_one(
    page: Page, seeded: Seeded, page_errors: list[str]
) -> None:
    p = page
    log_in(p, seeded, Role.VIEWER)
    p.goto("/findings/1")
    assert p.locator("#exception-form").count() == 0
    # scripts cannot call out at all (the Content-Security-Policy has no connect-src)...
    blocked = p.evaluate("fetch('/api/v1/whoami').then(() => 'sent', () => 'blocked')")
    assert blocked == "blocked"
    assert any("Content Security Policy" in e for e in page_errors)
    page_errors.clear()
    # ...and a POST with the session cookie but without its CSRF token is refused
    forged = p.request.post(f"{seeded.api.url}/findings/1/exceptions", form={"reason": "x", "scope": "rule"})
    assert forged.status == 403


def test_an_assets_layer_view(page: Page, seeded: Seeded) -> None:
    p = page
    log_in(p, seeded, Role.VIEWER)
    p.click("nav >> text=Assets")
    shot(p, "assets")
    p.click(f"#assets-table tr[data-asset-id='{seeded.seed.asset_id}'] a.asset-link")
    p.wait_for_selector("#layers")
    with api(seeded) as client:
        layers = client.get(f"/api/v1/assets/{seeded.seed.asset_id}/layers").json()
    # the layer table counts what each layer introduced (open findings: the API's layers list suppressed ones too)
    shown = p.locator("#layer-table tr.layer")
    assert shown.count() == len(layers)
    for index, layer in enumerate(layers):
        item = shown.nth(index)
        assert int(item.get_attribute("data-index")) == layer["index"]
        assert int(item.locator(".layer-packages").inner_text()) == len(layer["packages"])
        opened = [f for f in layer["findings"] if f["status"] in ("open", "reopened")]
        assert int(item.locator(".layer-findings").inner_text()) == len(opened)
    assert "pip install" in p.locator("#layer-table tr.layer[data-index='1']").inner_text()
    # the inventory filter runs on the server: only what matches, one page at a time
    p.fill("#inventory-q", "zlib")
    with p.expect_navigation():
        p.press("#inventory-q", "Enter")
    visible = p.locator("#inventory-table tbody tr")
    assert visible.count() >= 1 and all("zlib" in t for t in visible.all_inner_texts())
    shot(p, "asset")


def test_compliance_page_and_html_export_and_audit_page(page: Page, seeded: Seeded, tmp_path: Path) -> None:
    p = page
    log_in(p, seeded, Role.VIEWER)
    p.click("nav >> text=Compliance")
    with p.expect_navigation():
        p.select_option("#framework", "cis-docker-1.6")  # the select submits its form (app.js)
    with p.expect_navigation():
        p.select_option("#compliance-asset", str(seeded.seed.asset_id))
    assert "framework=cis-docker-1.6" in p.url
    with api(seeded) as client:
        report = client.get("/api/v1/compliance/cis-docker-1.6", params={"asset_id": seeded.seed.asset_id}).json()
    assert int(p.inner_text("#compliance-fail")) == report["failed"]
    assert p.locator("#controls tr.control[data-status=fail]").count() == report["failed"]
    shot(p, "compliance")
    with p.expect_download() as download:
        p.click("#compliance-export")
    saved = tmp_path / "compliance.html"
    download.value.save_as(saved)
    shutil.copy(saved, ARTIFACTS / "compliance-export.html")
    assert f'<span id="count-fail">{report["failed"]}</span>' in saved.read_text()
    p.click("nav >> text=Audit")
    assert p.get_attribute("#verify", "data-ok") == "true"
    with api(seeded) as client:
        verify = client.get("/api/v1/audit/verify").json()
    assert int(p.inner_text("#audit-events")) == verify["events"]
    assert p.locator("#audit-table tr.event").count() >= 1
    shot(p, "audit")
