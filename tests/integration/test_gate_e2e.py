"""The gate end to end, through the CLI, on examples/sample-app and on the demo image.

The story of the issue: the gate fails with exit 1 for a real reason
(a fixable HIGH vulnerability, a secret), passes after a justified exception
or VEX statement is added, and fails again when the exception expires; every
report of every run validates.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers.schemas import validate_cyclonedx, validate_report_json, validate_sarif

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sample-app"
VULN = "CVE-2024-34069"


def shieldwall(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the sample repository (a git root), with the bundled sample advisories imported."""
    root = tmp_path / "sample-app"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("shieldwall-report"))
    (root / ".git").mkdir()
    (root / ".shieldwallignore.yaml").unlink()
    proc = shieldwall("db", "import-samples", "-q", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def exception(root: Path, rule: str, expires: dt.date, reason: str) -> None:
    with (root / ".shieldwallignore.yaml").open("a") as fh:
        if fh.tell() == 0:
            fh.write("exceptions:\n")
        fh.write(f"  - id: {rule}\n    reason: {reason}\n    by: security@example.com\n    expires: {expires}\n")


def report(root: Path) -> dict:  # type: ignore[type-arg]
    data = json.loads((root / "shieldwall-report" / "shieldwall.json").read_text())
    validate_report_json(data)
    return data  # type: ignore[no-any-return]


def check_every_report(root: Path) -> None:
    out = root / "shieldwall-report"
    validate_sarif(json.loads((out / "shieldwall.sarif").read_text()))
    ET.fromstring((out / "shieldwall-junit.xml").read_text())
    assert "<svg" in (out / "shieldwall.html").read_text()
    assert "Shieldwall" in (out / "summary.md").read_text()
    report(root)


def failing(data: dict) -> set[str]:  # type: ignore[type-arg]
    return {f["rule_id"] for f in data["gate"]["failures"]}


def test_fails_passes_with_judgement_fails_again_on_expiry(app: Path) -> None:
    # 1. a real reason: the fixable HIGH werkzeug advisory and the planted (fake) token
    proc = shieldwall("scan", ".", "-q", cwd=app)
    assert proc.returncode == 1, proc.stderr
    data = report(app)
    assert failing(data) == {VULN, "github-pat"}
    assert f"policy sample-gate: HIGH {VULN}" in proc.stderr
    check_every_report(app)

    # 2. a justified exception for the token and a VEX statement for the advisory: the gate passes
    exception(app, "github-pat", dt.date.today() + dt.timedelta(days=30), "fake token planted for the example")
    proc = shieldwall("scan", ".", "-q", "--vex", "vex/werkzeug.openvex.json", cwd=app)
    assert proc.returncode == 0, proc.stderr
    data = report(app)
    assert data["gate"]["passed"] is True and data["gate"]["suppressed"] == 2
    suppressed = {f["rule_id"]: f["suppressions"][0] for f in data["findings"] if not f["active"]}
    assert suppressed[VULN]["kind"] == "vex"
    assert dict(suppressed[VULN]["statement"])["justification"] == "vulnerable_code_not_in_execute_path"
    assert suppressed["github-pat"]["reason"] == "fake token planted for the example"
    sarif = json.loads((app / "shieldwall-report" / "shieldwall.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"] if r.get("suppressions")} == {VULN, "github-pat"}
    check_every_report(app)

    # 3. the exception expires: it stops suppressing, says so, and the gate fails again
    (app / ".shieldwallignore.yaml").unlink()
    exception(app, "github-pat", dt.date.today() - dt.timedelta(days=1), "fake token planted for the example")
    proc = shieldwall("scan", ".", "-q", "--vex", "vex/werkzeug.openvex.json", cwd=app)
    assert proc.returncode == 1, proc.stderr
    assert "exception github-pat" in proc.stderr and "expired on" in proc.stderr
    data = report(app)
    assert failing(data) == {"github-pat"}
    assert any("expired" in w["message"] for w in data["warnings"])


def test_exception_instead_of_vex_and_its_expiry(app: Path) -> None:
    exception(app, "github-pat", dt.date.today() + dt.timedelta(days=30), "fake token")
    today = dt.date.today()
    exception(app, "GHSA-2g68-c3qc-8985", today, "debugger never enabled; upgrade planned")  # alias of the CVE
    assert shieldwall("scan", ".", "-q", cwd=app).returncode == 0
    (app / ".shieldwallignore.yaml").write_text(
        (app / ".shieldwallignore.yaml")
        .read_text()
        .replace(f"expires: {dt.date.today()}\n", f"expires: {dt.date.today() - dt.timedelta(days=1)}\n")
    )
    proc = shieldwall("scan", ".", "-q", cwd=app)
    assert proc.returncode == 1 and "GHSA-2g68-c3qc-8985" in proc.stderr
    assert failing(report(app)) == {VULN}


def test_baseline_fails_only_on_new_findings(app: Path) -> None:
    assert shieldwall("scan", ".", "-q", cwd=app).returncode == 1
    previous = app.parent / "previous.json"
    shutil.copy(app / "shieldwall-report" / "shieldwall.json", previous)
    assert shieldwall("scan", ".", "-q", "--baseline", str(previous), cwd=app).returncode == 0
    (app / "config" / "more.env").write_text("DEPLOY_TOKEN=ghp_8Hs2kL5pQ9wE3rT7yU1iO4aZ6xC0vB2nM5gF\n")
    proc = shieldwall("scan", ".", "-q", "--baseline", str(previous), cwd=app)
    assert proc.returncode == 1
    data = report(app)
    assert failing(data) == {"github-pat"} and data["gate"]["baseline_known"] >= 2
    assert [
        f["location"]["path"] for f in data["findings"] if f["fingerprint"] in data["gate"]["new_fingerprints"]
    ] == ["/config/more.env"]


def test_demo_image_gate(tmp_path: Path) -> None:
    from shieldwall.demo import build_demo_image

    archive = build_demo_image(tmp_path / "demo")
    assert shieldwall("db", "import-samples", "-q", cwd=tmp_path).returncode == 0
    out = tmp_path / "demo.json"
    proc = shieldwall(
        "scan", f"docker-archive:{archive}", "-q", "--fail-on", "critical", "--format", "json",
        "-o", f"cyclonedx={tmp_path / 'demo.cdx.json'}", "-o", f"sarif={tmp_path / 'demo.sarif'}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    out.write_text(proc.stdout)
    data = json.loads(proc.stdout)
    validate_report_json(data)
    validate_sarif(json.loads((tmp_path / "demo.sarif").read_text()))
    validate_cyclonedx((tmp_path / "demo.cdx.json").read_text())
    critical = sorted({f["rule_id"] for f in data["gate"]["failures"]})
    assert critical and all(f["severity"] == "CRITICAL" for f in data["gate"]["failures"])
    # judge every critical finding with an exception: the gate passes, the findings stay in the report
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(
        "exceptions:\n"
        + "".join(
            f"  - fingerprint: {f['fingerprint']}\n    reason: demo image, accepted\n"
            f"    by: demo\n    expires: {dt.date.today()}\n"
            for f in data["gate"]["failures"]
        )
    )
    proc = shieldwall(
        "scan", f"docker-archive:{archive}", "-q", "--fail-on", "critical", "--format", "json",
        "--exceptions", str(ignore), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    judged = json.loads(proc.stdout)
    assert len(judged["findings"]) == len(data["findings"])
    assert judged["gate"]["suppressed"] >= len(critical)
