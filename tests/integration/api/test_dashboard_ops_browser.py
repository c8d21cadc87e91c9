"""The "what changed", "who decided what" and "scans and jobs" pages in Debian's chromium, against the API's numbers."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page

from helpers.api_server import Seeded
from helpers.dashops_story import build_story
from shieldwall.api.tokens import Role

from .test_dashboard_browser import browser, log_in, page, page_errors, shot  # noqa: F401 - fixtures

# ruff: noqa: F811 - the imported fixture "page" is the parameter of the tests below
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)]

SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "version": 1,
    "metadata": {"component": {"type": "application", "name": "from-the-browser", "version": "2.0"}},
    "components": [{"type": "library", "name": "Jinja2", "version": "2.11.2", "purl": "pkg:pypi/jinja2@2.11.2"}],
}


@pytest.fixture(scope="module")
def story(seeded: Seeded) -> Seeded:
    build_story(seeded.store)
    return seeded


def test_what_changed_in_the_fleet_and_for_one_asset(page: Page, story: Seeded) -> None:
    log_in(page, story, Role.VIEWER)
    page.click("header nav a[href='/changes']")
    page.wait_for_url(re.compile(r".*/changes$"))
    with story.api.client(Role.VIEWER) as api:
        fleet = api.get("/api/v1/changes", params={"days": 7}).json()
    assert int(page.inner_text("#added-count")) == fleet["added_count"]
    assert int(page.inner_text("#rebuilt-count")) == fleet["rebuilt_count"] >= 1
    assert int(page.inner_text("#retired-count")) == fleet["retired_count"]
    for severity, count in fleet["new_findings"].items():
        assert int(page.inner_text(f"td.new-count[data-severity={severity}]")) == count
    shot(page, "changes")
    rebuilt = fleet["rebuilt"][0]
    page.click(f"#rebuilt-table a[href='/assets/{rebuilt['new_asset_id']}/changes']")
    page.wait_for_url(re.compile(rf".*/assets/{rebuilt['new_asset_id']}/changes$"))
    with story.api.client(Role.VIEWER) as api:
        history = api.get(f"/api/v1/assets/{rebuilt['new_asset_id']}/changes").json()
    rows = page.locator("#history-table tr.step")
    assert rows.count() == len(history["steps"])
    for index, step in enumerate(history["steps"]):
        row = rows.nth(index)
        assert int(row.get_attribute("data-scan-id") or 0) == step["scan"]["id"]
        assert int(row.locator("td.step-new").inner_text()) == step["new_findings"]
        assert int(row.locator("td.step-resolved").inner_text()) == step["resolved_findings"]
    changes = page.locator("#package-changes tr.package-change")
    assert changes.count() == sum(history["steps"][0]["packages"].values()) == 2
    shot(page, "asset-changes")


def test_who_decided_what(page: Page, story: Seeded) -> None:
    log_in(page, story, Role.OPERATOR)
    page.goto("/decisions")
    page.select_option("#within", "7")  # submits itself (app.js)
    page.wait_for_url(re.compile(r".*/decisions\?within=7$"))
    with story.api.client(Role.VIEWER) as api:
        data = api.get("/api/v1/decisions", params={"within": 7}).json()
    counts = data["counts"]
    assert page.get_attribute("#audit-status", "data-ok") == ("true" if data["audit"]["ok"] else "false")
    assert int(page.inner_text("#expiring-count")) == counts["exceptions_expiring"] + counts["statements_expiring"]
    assert int(page.inner_text("#expired-count")) == counts["exceptions_expired"] + counts["statements_expired"]
    assert page.locator("#expiring-table tr.exception").count() == len(data["expiring"]) == 1
    assert page.locator("#statements-table tr.statement").count() == len(data["statements"]) == 1
    shot(page, "decisions")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#expiring-table tr.exception button")  # an operator revokes it here
    page.wait_for_url(re.compile(r".*/decisions$"))
    with story.api.client(Role.VIEWER) as api:
        after = api.get("/api/v1/decisions", params={"within": 7}).json()
    assert after["expiring"] == [] and after["counts"]["exceptions_revoked"] == counts["exceptions_revoked"] + 1


def test_upload_a_sbom_follow_the_job_and_preview_its_reports(page: Page, story: Seeded) -> None:
    log_in(page, story, Role.OPERATOR)
    page.click("header nav a[href='/actions']")
    page.set_input_files(
        "#file", files=[{"name": "bom.json", "mimeType": "application/json", "buffer": json.dumps(SBOM).encode()}]
    )
    page.check("input[name=kind][value=sbom]")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/actions\?done=.*"))
    job_id = re.search(r"job ([0-9a-f]{16})", page.inner_text("#action-done"))
    assert job_id is not None
    # no reload: the table refreshes itself while the job runs
    page.wait_for_selector(f'tr.job[data-job-id="{job_id.group(1)}"][data-status="succeeded"]', timeout=180_000)
    with story.api.client(Role.VIEWER) as api:
        job = api.get(f"/api/v1/jobs/{job_id.group(1)}").json()
    assert job["status"] == "succeeded" and job["target"] == "upload:bom.json"
    shot(page, "actions")
    page.click(f'tr.job[data-job-id="{job_id.group(1)}"] a:has-text("preview reports")')
    page.wait_for_url(re.compile(rf".*/assets/{job['asset_id']}/preview$"))
    sarif = page.request.get(f"/assets/{job['asset_id']}/report.sarif").json()
    assert int(page.inner_text("#sarif-results")) == len(sarif["runs"][0]["results"]) >= 1
    frame = page.frame_locator("#report-frame")
    assert "from-the-browser" in frame.locator("body").inner_text()
    shot(page, "preview")


def test_an_admin_creates_a_token_that_is_shown_once(page: Page, story: Seeded) -> None:
    log_in(page, story, Role.ADMIN)
    page.goto("/actions/tokens")
    page.fill("#token-name", "browser-made")
    page.select_option("#token-role", "viewer")
    page.click("#token-form button[type=submit]")
    secret = page.input_value("#new-token-value")
    assert secret.startswith("swt_")
    with story.api.client(token=secret) as api:
        assert api.get("/api/v1/whoami").json()["name"] == "browser-made"
    page.goto("/actions/tokens")
    assert secret not in page.content() and page.locator("#new-token").count() == 0
    shot(page, "tokens")
