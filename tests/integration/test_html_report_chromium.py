"""The HTML report opened in headless Chromium: findings in the DOM, the chart drawn, no network.

Chromium's own background traffic (update checks, spell-check dictionaries)
is told apart from the page's requests by the request initiator in the net
log: browser requests have none ("not an origin"), a page's requests carry
the page's origin. A control page that does load a remote image proves the
check can fail.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers.sample_result import sample_result, sample_verdict
from shieldwall.report.html import render_html

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def open_in_chromium(page: Path, workdir: Path) -> tuple[str, list[str]]:
    """Return the DOM after scripts ran and the URLs the page itself requested."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (.ci/run installs it)")
    netlog = workdir / "net.json"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={workdir / 'profile'}",
            f"--log-net-log={netlog}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs of requests whose initiator is a page (not the browser itself)."""
    text = netlog.read_text()
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:  # the log may end without its closing brackets
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if params.get("initiator") != "not an origin":
            urls.append(str(params["url"]))
    return urls


@pytest.mark.integration
def test_html_report_renders_offline(tmp_path: Path) -> None:
    result = sample_result()
    verdict = sample_verdict(result)
    page = tmp_path / "report.html"
    page.write_text(render_html(result, verdict), encoding="utf-8")
    dom, requests = open_in_chromium(page, tmp_path)
    assert requests == []
    assert 'data-ready="true"' in dom  # the inline script ran
    drawn = re.search(r'id="severity-chart"[^>]*data-rendered="(\d+)"', dom) or re.search(
        r'data-rendered="(\d+)"[^>]*id="severity-chart"', dom
    )
    assert drawn is not None and int(drawn.group(1)) == 4  # one visible bar per non-empty severity
    for finding in result.findings:
        assert finding.fingerprint in dom
        assert html.escape(finding.rule_id) in dom
    assert "Gate failed: 2 violation(s)" in dom
    assert dom.count('class="suppressed-finding"') == 3 and "legal@example.com" in dom
    assert dom.count('class="layer"') == 3


@pytest.mark.integration
def test_network_check_detects_a_remote_load(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>')
    _, requests = open_in_chromium(page, tmp_path)
    assert requests == ["http://127.0.0.1:9/pixel.png"]
