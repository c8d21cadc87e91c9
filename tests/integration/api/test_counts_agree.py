"""The same image scanned by the CLI and by the API: the CLI's report, the API and the dashboard agree on
the number of packages and of active findings by severity (the committed demo image, bundled advisories)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.api_server import ApiServer, api_settings, tokens, wait_job
from shieldwall.api.tokens import Role
from shieldwall.demo import build_demo_image
from shieldwall.store import Store
from shieldwall.vulndb.samples import import_bundled_samples
from shieldwall.vulndb.store import default_db_path

pytestmark = pytest.mark.integration


def login(client: httpx.Client, token: str) -> None:
    """Log in to the dashboard as a browser does (form, CSRF cookie, session cookie)."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303, done.text


def _cli_scan(archive: Path, store_url: str, data: Path, cache: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": store_url,
        "SHIELDWALL_DATA_DIR": str(data),
        "SHIELDWALL_CACHE_DIR": str(cache),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "shieldwall", "scan", f"docker-archive:{archive}", "-f", "json", "-q", "--store"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _asset_counts(api: ApiServer) -> tuple[int, dict[str, Any]]:
    with api.client(Role.VIEWER) as client:
        (asset,) = client.get("/api/v1/assets").json()
        detail: dict[str, Any] = client.get(f"/api/v1/assets/{asset['id']}").json()
    return int(asset["id"]), detail


def _dashboard_counts(api: ApiServer, asset_id: int) -> tuple[int, dict[str, int]]:
    with httpx.Client(base_url=api.url, timeout=60) as browser:
        login(browser, api.tokens[Role.VIEWER])
        html = browser.get(f"/assets/{asset_id}").text
    packages = re.search(r'id="asset-packages">(\d+)<', html)
    assert packages is not None
    chart = html.split('id="asset-severity-chart"', 1)[1].split("</svg>", 1)[0]
    severity = {label: int(value) for label, value in re.findall(r'data-label="(\w+)" data-value="(\d+)"', chart)}
    return int(packages.group(1)), severity


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k.upper(): v for k, v in counts.items() if v}


def test_cli_api_and_dashboard_counts_agree(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    import_bundled_samples(default_db_path({"SHIELDWALL_DATA_DIR": str(data)}))
    archive = build_demo_image(tmp_path / "image")

    # the CLI scans and records the scan; the API and the dashboard serve the store it wrote
    cli_url = f"sqlite:///{tmp_path / 'cli.db'}"
    report = _cli_scan(archive, cli_url, data, cache)
    active = [f for f in report["findings"] if f["active"]]
    cli_severity = dict(Counter(f["severity"] for f in active))
    cli_packages = len(report["packages"])
    assert cli_packages > 0 and len(active) > 0

    cli_store = Store.open(cli_url, audit_key_path=tmp_path / "cli-key.pem")
    try:
        api = ApiServer.start(cli_store, api_settings(data, cache, upload_dir=tmp_path / "uploads"))
        api.tokens = tokens(cli_store)
        try:
            asset_id, detail = _asset_counts(api)
            assert detail["packages"] == cli_packages
            assert _nonzero(detail["findings_by_severity"]) == cli_severity
            assert detail["open_findings"] == len(active)
            packages, severity = _dashboard_counts(api, asset_id)
            assert packages == cli_packages and _nonzero(severity) == cli_severity
        finally:
            api.stop()
    finally:
        cli_store.close()

    # the API scans the same image itself (upload): the same numbers
    api_store = Store.open(f"sqlite:///{tmp_path / 'api.db'}", audit_key_path=tmp_path / "api-key.pem")
    try:
        api = ApiServer.start(api_store, api_settings(data, cache, upload_dir=tmp_path / "uploads2"))
        api.tokens = tokens(api_store)
        try:
            with api.client(Role.OPERATOR) as client, archive.open("rb") as handle:
                job = client.post(
                    "/api/v1/scans/upload", files={"file": ("demo.tar", handle, "application/x-tar")}
                ).json()
                done = wait_job(client, job["id"])
            assert done["status"] == "succeeded", done
            asset_id, detail = _asset_counts(api)
            assert detail["packages"] == cli_packages
            assert _nonzero(detail["findings_by_severity"]) == cli_severity
            packages, severity = _dashboard_counts(api, asset_id)
            assert packages == cli_packages and _nonzero(severity) == cli_severity
        finally:
            api.stop()
    finally:
        api_store.close()
