"""The demo data: the API's and the dashboard's numbers match ``shieldwall findings`` on the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from helpers.api_server import Seeded
from shieldwall.api.tokens import Role

pytestmark = pytest.mark.integration


def cli(seeded_url: str, *args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    """``shieldwall ARGS`` against the store at ``seeded_url``."""
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": seeded_url,
        "SHIELDWALL_DATA_DIR": str(env_dir / "data"),
        "SHIELDWALL_CACHE_DIR": str(env_dir / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def login(client: httpx.Client, token: str) -> None:
    """Log a client in to the dashboard the way a browser does (form, CSRF cookie, session cookie)."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    assert "sw_session" in client.cookies


def _dashboard_counts(html: str) -> tuple[dict[str, int], dict[str, int], int]:
    severity = {m[0]: int(m[1]) for m in re.findall(r'data-severity="(\w+)" class="open-count">(\d+)<', html)}
    kind = {m[0]: int(m[1]) for m in re.findall(r'data-kind="([\w-]+)" class="kind-count">(\d+)<', html)}
    total = re.search(r'id="open-total">(\d+)<', html)
    assert total is not None
    return severity, kind, int(total.group(1))


def test_dashboard_api_and_cli_show_the_same_numbers(seeded: Seeded, tmp_path: Path) -> None:
    run = cli(seeded.url, "findings", "--status", "active", "--format", "json", env_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    by_severity = Counter(r["severity"] for r in rows)
    by_kind = Counter(r["kind"] for r in rows)
    assert len(rows) == seeded.seed.open_findings

    with seeded.api.client(Role.VIEWER) as viewer:
        overview = viewer.get("/api/v1/overview").json()
        listed = viewer.get("/api/v1/findings", params={"status": "active", "limit": 500}).json()
    assert overview["open_total"] == len(rows) == listed["total"]
    assert {k: v for k, v in overview["open_by_severity"].items() if v} == dict(by_severity)
    assert overview["open_by_kind"] == dict(by_kind)
    assert {f["id"] for f in listed["items"]} == {r["id"] for r in rows}

    with httpx.Client(base_url=seeded.api.url, timeout=30) as browser:
        login(browser, seeded.api.tokens[Role.VIEWER])
        severity, kind, total = _dashboard_counts(browser.get("/").text)
    assert total == len(rows)
    assert {k: v for k, v in severity.items() if v} == dict(by_severity)
    assert kind == dict(by_kind)

    assets = cli(seeded.url, "assets", "--format", "json", env_dir=tmp_path)
    assert overview["assets"] == sum(1 for a in json.loads(assets.stdout) if a["active"])


def test_the_seeded_image_was_rematched_against_a_late_advisory(seeded: Seeded) -> None:
    with seeded.api.client(Role.VIEWER) as viewer:
        hits = viewer.get("/api/v1/overview").json()["rematch"]
        held = viewer.get("/api/v1/findings", params={"q": "urllib3", "asset_id": seeded.seed.asset_id}).json()
    assert seeded.seed.held_back and seeded.seed.created
    hit = next(h for h in hits if h["asset_id"] == seeded.seed.asset_id)
    assert hit["golden"] and hit["new"]
    assert set(hit["new"]) <= {f["rule_id"] for f in held["items"]}


def test_serve_demo_prints_a_token_and_serves_the_demo(tmp_path: Path) -> None:
    """``shieldwall serve --demo`` as a user runs it: its own data directory, SQLite, a printed admin token."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if k != "SHIELDWALL_DATABASE_URL"},
        "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
        "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache"),
        "SHIELDWALL_CONFIG_DIR": str(tmp_path / "config"),
    }
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "shieldwall", "serve", "--demo", "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        token = ""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            found = re.search(r"^(swt_\S+)$", (tmp_path / "serve.log").read_text(), re.MULTILINE)
            if found:
                token = found.group(1)
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        assert token, "no token printed"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/v1/whoami").json()["role"] == "admin"
            overview = api.get("/api/v1/overview").json()
        rows = json.loads(
            subprocess.run(
                [sys.executable, "-m", "shieldwall", "findings", "--status", "active", "--format", "json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=True,
            ).stdout
        )
        assert overview["open_total"] == len(rows) > 30
        assert overview["assets_by_environment"] == {"demo": 1}
    finally:
        process.terminate()
        process.wait(30)
        log.close()
