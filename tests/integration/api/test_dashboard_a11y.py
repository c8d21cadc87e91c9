"""Accessibility of every dashboard page in Debian's chromium: axe-core finds no serious or critical violation.

The pages are discovered from the main navigation of the logged-in admin's
overview (so pages other modules add to the navigation are checked too),
plus representative detail pages reached from them. axe-core comes from the
``axe-playwright-python`` wheel, which ships ``axe.min.js`` inside it: nothing
is fetched at test time. A screenshot of every page goes to
``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from helpers.api_server import Seeded
from shieldwall.api.tokens import Role

from .test_dashboard_browser import browser, log_in, page, page_errors, shot  # noqa: F401 - fixtures

# ruff: noqa: F811 - the imported fixture "page" is the parameter of the tests and helpers below
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)]

BLOCKING = ("serious", "critical")


def nav_links(page: Page) -> list[str]:
    """The paths the main navigation links to, in order."""
    hrefs = page.eval_on_selector_all("header nav a", "links => links.map(a => a.getAttribute('href'))")
    return [h for h in hrefs if isinstance(h, str) and h.startswith("/")]


def first_link(page: Page, path: str, pattern: str) -> str | None:
    """The first link on ``path`` whose href matches ``pattern`` (a representative detail page)."""
    page.goto(path)
    for href in page.eval_on_selector_all("main a", "links => links.map(a => a.getAttribute('href'))"):
        if isinstance(href, str) and re.fullmatch(pattern, href):
            return href
    return None


def blocking_violations(page: Page) -> list[str]:
    """Serious and critical axe violations of the loaded page, one line each."""
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING:
            targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def test_every_page_in_the_navigation_has_no_serious_accessibility_violation(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded, Role.ADMIN)
    pages = nav_links(page)
    assert {"/", "/assets", "/findings", "/changes", "/decisions", "/actions"} <= set(pages), pages
    details = [
        first_link(page, "/assets", r"/assets/\d+"),
        first_link(page, "/findings", r"/findings/\d+"),
        first_link(page, "/actions", r"/actions/registries"),
        first_link(page, "/actions", r"/actions/tokens"),
    ]
    asset = details[0]
    assert asset is not None, "the seeded store has an asset"
    details += [f"{asset}/changes", f"{asset}/preview", "/login"]
    checked: dict[str, list[str]] = {}
    for path in [*pages, *(d for d in details if d)]:
        if path == "/login":
            page.context.clear_cookies()
        response = page.goto(path)
        assert response is not None and response.ok, (path, response.status if response else None)
        page.wait_for_load_state("load")
        checked[path] = blocking_violations(page)
        name = re.sub(r"[^a-z0-9]+", "-", urlsplit(path).path.lower()).strip("-") or "overview"
        shot(page, f"a11y-{name}")
    failures = {p: v for p, v in checked.items() if v}
    assert failures == {}, failures
    assert len(checked) >= 10
