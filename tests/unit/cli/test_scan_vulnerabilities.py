"""`shieldwall scan` with a vulnerability database: findings, --severity, --ignore-unfixed, --max-db-age."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from shieldwall.report.table import render_table
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.osv import load_osv_path
from shieldwall.vulndb.store import VulnDB, default_db_path
from unit.match.test_matcher import FIXTURES


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )


def _project(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.7.1\nrequests==2.31.0\n")
    with VulnDB.build(default_db_path()) as writer:
        writer.replace_source(SourceInfo("fixtures"), [a for p in FIXTURES.glob("*.json") for a in load_osv_path(p)])
    return app


def _vulns(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    return sorted(
        (f["rule_id"], f["severity"], f["vuln"]["fixed_version"])
        for f in doc["findings"]
        if f["kind"] == "vulnerability"
    )


def test_scan_reports_filters_and_summarises(tmp_path: Path) -> None:
    app = _project(tmp_path)
    assert _vulns(run("scan", f"dir:{app}", "-q", "-f", "json")) == [
        ("CVE-2014-1402", "HIGH", "2.7.2"),
        ("CVE-2024-22195", "MEDIUM", "3.1.3"),
    ]
    assert _vulns(run("scan", f"dir:{app}", "-q", "-f", "json", "--severity", "high,CRITICAL")) == [
        ("CVE-2014-1402", "HIGH", "2.7.2")
    ]
    text = render_table(scan_target(f"dir:{app}", ScanOptions(use_cache=False)))
    assert "Vulnerabilities: 1 HIGH, 1 MEDIUM" in text
    assert "CVE-2014-1402" in text and "2.7.2" in text


def test_ignore_unfixed_and_bad_severity(tmp_path: Path) -> None:
    app = _project(tmp_path)
    (app / "requirements.txt").write_text("jinja2==3.1.4\n")
    # Only the withdrawn advisory names 3.1.4: nothing to report, fixed or not.
    assert _vulns(run("scan", f"dir:{app}", "-q", "-f", "json", "--ignore-unfixed")) == []
    proc = run("scan", f"dir:{app}", "-q", "--severity", "SEVERE")
    assert proc.returncode == 2 and "severity" in proc.stderr and "Traceback" not in proc.stderr


def test_max_db_age_fails_on_a_stale_database(tmp_path: Path) -> None:
    app = _project(tmp_path)
    conn = sqlite3.connect(default_db_path())
    conn.execute("UPDATE meta SET value = '2000-01-01T00:00:00+00:00' WHERE key = 'updated_at'")
    conn.commit()
    conn.close()
    # Fail closed: a stale database (older than the default 7 days) stops the gate with one line...
    refused = run("scan", f"dir:{app}", "-q", "-f", "json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "not evaluated" in refused.stderr
    # ...unless explicitly opted out: then the packages are marked "not evaluated".
    warned = run("scan", f"dir:{app}", "-q", "-f", "json", "--allow-incomplete-db")
    assert warned.returncode == 0
    report = json.loads(warned.stdout)
    assert any("older than" in w["message"] for w in report["warnings"])
    marks = [dict(map(tuple, p["metadata"])).get("vulnerability", "") for p in report["packages"]]
    assert marks and all(m == "not evaluated: the vulnerability database is stale" for m in marks)
    failed = run("scan", f"dir:{app}", "-q", "--max-db-age", "30d")
    assert failed.returncode == 2 and "older than" in failed.stderr
    bad = run("scan", f"dir:{app}", "-q", "--max-db-age", "soon")
    assert bad.returncode == 2 and "invalid age" in bad.stderr


def test_no_database_fails_closed_unless_opted_out(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.7.1\n")
    refused = run("scan", f"dir:{app}", "-q", "-f", "json")
    assert refused.returncode == 2 and "no vulnerability database" in refused.stderr, refused.stderr
    assert "shieldwall db update" in refused.stderr and "--allow-incomplete-db" in refused.stderr
    # the same opt-out from the configuration file (the policy key)
    (app / "shieldwall.yaml").write_text("allow_incomplete_db: true\n")
    proc = run("scan", f"dir:{app}", "-q", "-f", "json", "--config", str(app / "shieldwall.yaml"))
    assert proc.returncode == 0, proc.stderr
    (jinja,) = json.loads(proc.stdout)["packages"]
    assert ["vulnerability", f"not evaluated: no vulnerability database at {default_db_path()}"] in jinja["metadata"]
    # with the vulnerability scanner off, no database is needed
    assert run("scan", f"dir:{app}", "-q", "--scanners", "secret").returncode == 0
    messages = [w["message"] for w in json.loads(proc.stdout)["warnings"]]
    assert "no vulnerability database: run `shieldwall db update` (or `db import`)" in messages
