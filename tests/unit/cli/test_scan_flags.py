"""`shieldwall scan`: --quiet, summary-only with --output, the findings table at 80 columns, and the
flags users bring from trivy: --skip-dirs/--skip-files, --exit-code, --severity (every kind),
--timeout and .trivyignore."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from helpers.sample_result import sample_result, sample_verdict
from helpers.secrets import ghp
from shieldwall.model import Location
from shieldwall.report.table import print_table, render_table
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.osv import load_osv_path
from shieldwall.vulndb.store import VulnDB, default_db_path
from unit.match.test_matcher import FIXTURES


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **env},
    )


def _db() -> None:
    with VulnDB.build(default_db_path()) as writer:
        writer.replace_source(SourceInfo("fixtures"), [a for p in FIXTURES.glob("*.json") for a in load_osv_path(p)])


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """jinja2 2.7.1 (CVE-2014-1402 HIGH, CVE-2024-22195 MEDIUM) in two places, requests (clean), a secret,
    a Dockerfile without USER (SW-DF-001)."""
    _db()
    root = tmp_path / "app"
    (root / "vendor" / "lib").mkdir(parents=True)
    (root / "requirements.txt").write_text("jinja2==2.7.1\nrequests==2.31.0\n")
    (root / "vendor" / "lib" / "requirements.txt").write_text("jinja2==2.7.1\n")
    (root / "config").mkdir()
    (root / "config" / "deploy.env").write_text(f"GITHUB_TOKEN={ghp()}\n")
    (root / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\n")
    return root


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode in (0, 1), proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _findings(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (f["kind"], f["rule_id"], (f.get("location") or {}).get("path", "")) for f in doc["findings"] if f["active"]
    )


# --- 1. the terminal ---------------------------------------------------------------------------------


def test_quiet_prints_only_errors(app: Path) -> None:
    (app / ".shieldwallignore.yaml").write_text(
        "exceptions:\n  - id: CVE-0000-0000\n    reason: matches nothing\n    by: t\n    expires: 2999-01-01\n"
    )
    passing = run("scan", f"dir:{app}", "-q", "--exit-code", "0", cwd=app)  # with a warning (unused exception)
    assert passing.returncode == 0 and passing.stdout == "" and passing.stderr == ""
    loud = run("scan", f"dir:{app}", "--fail-on", "high", "-o", f"json={app / 'r.json'}", cwd=app)
    assert "warning" in loud.stderr  # without -q the warning is shown
    failing = run("scan", f"dir:{app}", "-q", "--fail-on", "high", cwd=app)
    assert failing.returncode == 1 and failing.stdout == ""
    # the only output: why the gate failed (its violations and the gate's own warnings); no summary, no table
    lines = failing.stderr.splitlines()
    assert any(line.startswith("policy fail-on high:") for line in lines), failing.stderr
    assert all(line.startswith(("policy ", "warning: exception")) for line in lines), failing.stderr


def test_output_files_print_only_the_summary_line_once(app: Path, tmp_path: Path) -> None:
    proc = run("scan", f"dir:{app}", "--fail-on", "high", "-o", f"json={tmp_path / 'r.json'}")
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.startswith("shieldwall: ")
    assert "shieldwall: " not in proc.stderr  # not repeated; stderr only says why the gate failed
    assert "CVE-2014-1402" not in proc.stdout and "jinja2" not in proc.stdout


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("shieldwall: ")]


def test_default_table_lists_findings_with_locations_in_80_columns(app: Path) -> None:
    proc = run("scan", f"dir:{app}", COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    lines = _table_lines(proc.stdout)
    assert max(len(line) for line in lines) <= 80
    for rule in ("CVE-2014-1402", "CVE-2024-22195", "github-pat", "SW-DF-001"):
        assert any(rule in line for line in lines), rule  # each ID whole, on one line
    assert "requests" not in proc.stdout  # a package without findings is inventory, not a finding
    assert "(+1" in proc.stdout  # jinja2 is in two places: the row says so (the cell may fold)
    inventory = run("scan", f"dir:{app}", "--list-packages", COLUMNS="80")
    assert "requests" in inventory.stdout and "Packages" in inventory.stdout


def test_rich_console_of_width_80_breaks_no_id() -> None:
    result = sample_result()
    console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    print_table(result, console, sample_verdict(result))
    lines = _table_lines(console.export_text())
    assert max(len(line) for line in lines) <= 80
    for finding in result.findings:
        assert any(finding.rule_id in line for line in lines), finding.rule_id
    assert any(result.target.digest in line for line in lines)


def test_two_rows_never_look_identical() -> None:
    result = sample_result()
    (vuln,) = [f for f in result.findings if f.rule_id == "GHSA-j8r2-6x86-q33q"]
    package = next(p for p in result.packages if p.id == vuln.package_id)
    twin = replace(package, locations=(Location("/srv/other/requirements.txt"),))
    assert twin.id != package.id
    twin_vuln = replace(vuln, package_id=twin.id, location=Location("/srv/other/requirements.txt"))
    doubled = replace(result, packages=(*result.packages, twin), findings=(*result.findings, twin_vuln))
    rows = [line for line in render_table(doubled, width=250).splitlines() if "GHSA-j8r2-6x86-q33q" in line]
    assert len(rows) == 2 and rows[0] != rows[1]
    assert any("/srv/other/requirements.txt" in row for row in rows)


# --- 3. familiar flags ----------------------------------------------------------------------------------


def _locations(doc: dict[str, Any]) -> set[str]:
    return {loc["path"] for p in doc["packages"] for loc in p.get("locations", [])}


def test_skip_dirs_and_skip_files(app: Path) -> None:
    everything = _json(run("scan", f"dir:{app}", "-q", "-f", "json"))
    assert "/vendor/lib/requirements.txt" in _locations(everything)
    assert any(kind == "secret" for kind, _, _ in _findings(everything))
    skipped = _json(
        run("scan", f"dir:{app}", "-q", "-f", "json", "--skip-dirs", "**/lib", "--skip-files", "config/*.env")
    )
    assert not any(path.startswith("/vendor/") for path in _locations(skipped))
    left = _findings(skipped)
    assert not any(kind == "secret" for kind, _, _ in left)
    assert ("vulnerability", "CVE-2014-1402", "/requirements.txt") in left  # the same package elsewhere stays
    only_vendor = _json(run("scan", f"dir:{app}", "-q", "-f", "json", "--skip-files", "requirements.txt"))
    assert {p["name"] for p in only_vendor["packages"]} == {"jinja2"}  # requests was only in the skipped file
    assert _locations(only_vendor) == {"/vendor/lib/requirements.txt"}
    bad = run("scan", f"dir:{app}", "-q", "--skip-dirs", "./")
    assert bad.returncode == 2 and "skip pattern" in bad.stderr


def test_exit_code_of_a_failed_gate(app: Path) -> None:
    assert run("scan", f"dir:{app}", "-q", "--fail-on", "high").returncode == 1
    assert run("scan", f"dir:{app}", "-q", "--fail-on", "high", "--exit-code", "5").returncode == 5
    assert run("scan", f"dir:{app}", "-q", "--fail-on", "high", "--exit-code", "0").returncode == 0
    passing = run("scan", f"dir:{app}", "-q", "--scanners", "vuln", "--fail-on", "critical", "--exit-code", "5")
    assert passing.returncode == 0


def test_severity_filters_every_finding_kind(app: Path) -> None:
    everything = _json(run("scan", f"dir:{app}", "-q", "-f", "json"))
    kinds = {(f["kind"], f["severity"]) for f in everything["findings"]}
    assert {k for k, s in kinds if s in ("HIGH", "CRITICAL")} >= {"vulnerability", "secret"}
    low = _json(run("scan", f"dir:{app}", "-q", "-f", "json", "--severity", "LOW,MEDIUM"))
    assert low["findings"] and all(f["severity"] in ("LOW", "MEDIUM") for f in low["findings"])
    assert {f["kind"] for f in low["findings"]} >= {"vulnerability", "misconfig"}
    high = _json(run("scan", f"dir:{app}", "-q", "-f", "json", "--severity", "CRITICAL"))
    assert {f["kind"] for f in high["findings"]} == {"secret"}  # the misconfigurations are MEDIUM and LOW


def test_timeout_stops_the_scan_with_exit_2_and_reports_nothing(app: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    proc = run("scan", f"dir:{app}", "--timeout", "1ms", "-o", f"json={report}", "-f", "json")
    assert proc.returncode == 2
    assert "timed out" in proc.stderr and proc.stdout == "" and not report.exists()
    assert run("scan", f"dir:{app}", "-q", "--timeout", "10m").returncode == 0
    bad = run("scan", f"dir:{app}", "-q", "--timeout", "soon")
    assert bad.returncode == 2 and "--timeout" in bad.stderr


def test_trivyignore_beside_the_shieldwall_ignore_file(app: Path) -> None:
    (app / ".trivyignore").write_text(
        "# accepted\nCVE-2014-1402\n\n# accepted until a date long past\nCVE-2024-22195 exp:2000-01-01\n"
    )
    doc = _json(run("scan", f"dir:{app}", "-q", "-f", "json", cwd=app))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        by_id.setdefault(f["rule_id"], []).append(f)
    assert by_id["CVE-2014-1402"] and all(not f["active"] for f in by_id["CVE-2014-1402"])
    reasons = json.dumps(by_id["CVE-2014-1402"][0]["suppressions"])
    assert re.search(r"\.trivyignore:2", reasons)
    assert all(f["active"] for f in by_id["CVE-2024-22195"])  # expired: active again, with a warning
    assert any("expired" in w["message"] and ".trivyignore:5" in w["path"] for w in doc["warnings"])
    (app / ".trivyignore").write_text("CVE-2014-1402 exp:someday\n")
    bad = run("scan", f"dir:{app}", "-q", cwd=app)
    assert bad.returncode == 2 and ".trivyignore:1" in bad.stderr
