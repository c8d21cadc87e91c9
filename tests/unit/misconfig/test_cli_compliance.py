"""`shieldwall compliance` and `shieldwall scan` on a directory of mixed IaC (end to end, slower)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.misconfig import FIXTURES
from shieldwall.cli.main import app


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIELDWALL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHIELDWALL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    shutil.copy(next((FIXTURES / "SW-DF-002").glob("bad.*")), root / "Dockerfile")
    shutil.copy(FIXTURES / "SW-K8S-001" / "bad.yaml", root / "k8s" / "web.yaml")
    shutil.copy(FIXTURES / "SW-DC-005" / "bad.yml", root / "docker-compose.yml")
    (root / "k8s" / "svc.yaml").write_text(
        "# shieldwall:ignore=SW-K8S-150 reached only through the office VPN\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: NodePort}\n"
    )
    return root


def test_scan_reports_misconfigurations_with_controls(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["scan", f"dir:{project}", "--scanners", "misconfig", "-f", "json", "-q", "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    by_rule = {f["rule_id"]: f for f in findings}
    assert {"SW-DF-002", "SW-K8S-001", "SW-DC-005", "SW-K8S-200"} <= set(by_rule)
    assert "cis-kubernetes-1.23:5.2.2" in by_rule["SW-K8S-001"]["references"]
    assert by_rule["SW-K8S-150"]["suppressed"] == "reached only through the office VPN"


def test_compliance_report_json_and_table(project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["compliance", "k8s-pss-baseline", f"dir:{project}", "-f", "json", "-q", "--no-cache"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    status = {c["id"]: c["status"] for c in data["controls"]}
    assert status["privileged"] == "fail" and status["host-namespaces"] == "pass"
    assert 0 < data["summary"]["percent"] < 100
    table = runner.invoke(app, ["compliance", "cis-docker-1.6", f"dir:{project}", "-q", "--no-cache"])
    assert table.exit_code == 0, table.output
    assert "4.1" in table.stdout and "fail" in table.stdout and "of applicable controls pass" in table.stdout


def test_unknown_framework_exits_2(project: Path) -> None:
    result = CliRunner().invoke(app, ["compliance", "nope-1.0", f"dir:{project}", "-q"])
    assert result.exit_code == 2
