"""Each report format: valid against its schema, and saying what a reader needs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.sample_result import clean_result, sample_result, sample_verdict
from helpers.schemas import REPORT_SCHEMA, validate_cyclonedx, validate_report_json, validate_sarif
from shieldwall.model import Finding, FindingKind, Location, Severity
from shieldwall.policy.model import GateFailure, GateVerdict
from shieldwall.report.common import summary_line
from shieldwall.report.formats import OutputFormat, parse_output_spec, render
from shieldwall.report.sarif import FINGERPRINT_KEY

RESULTS = {"sample": sample_result, "clean": clean_result}


def test_packaged_schema_is_the_repository_schema() -> None:
    packaged = Path(__file__).resolve().parents[3] / "src" / "shieldwall" / "schemas" / REPORT_SCHEMA.name
    assert packaged.read_text() == REPORT_SCHEMA.read_text()


@pytest.mark.parametrize("name", RESULTS)
@pytest.mark.parametrize("with_verdict", [True, False])
def test_json_validates_against_schema(name: str, with_verdict: bool) -> None:
    result = RESULTS[name]()
    data = json.loads(render(OutputFormat.JSON, result, sample_verdict(result) if with_verdict else None))
    validate_report_json(data)
    assert ("gate" in data) is with_verdict


def test_json_schema_rejects_a_broken_report() -> None:
    data = json.loads(render(OutputFormat.JSON, sample_result()))
    data["findings"][0]["severity"] = "SEVERE"
    with pytest.raises(Exception, match="SEVERE"):
        validate_report_json(data)
    del data["findings"]
    with pytest.raises(Exception, match="findings"):
        validate_report_json(data)


def test_json_keeps_suppressed_findings_with_reason() -> None:
    data = json.loads(render(OutputFormat.JSON, sample_result(), sample_verdict()))
    by_id = {f["rule_id"]: f for f in data["findings"]}
    assert by_id["CVE-2018-20060"]["active"] is False
    assert by_id["CVE-2018-20060"]["suppressions"][0]["kind"] == "vex"
    assert by_id["KSV001"]["suppressed"] == "dev-only manifest" and by_id["KSV001"]["active"] is False
    assert by_id["DS002"]["active"] is True
    assert data["gate"]["passed"] is False
    assert {f["rule_id"] for f in data["gate"]["failures"]} == {"aws-access-key-id", "DS002"}


@pytest.mark.parametrize("name", RESULTS)
def test_sarif_validates_against_official_schema(name: str) -> None:
    result = RESULTS[name]()
    validate_sarif(json.loads(render(OutputFormat.SARIF, result, sample_verdict(result))))


def test_sarif_schema_check_is_real() -> None:
    doc = json.loads(render(OutputFormat.SARIF, sample_result()))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(Exception, match="fatal"):
        validate_sarif(doc)


def test_sarif_content() -> None:
    result = sample_result()
    doc = json.loads(render(OutputFormat.SARIF, result, sample_verdict(result)))
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {f.rule_id for f in result.findings}
    assert "Fix:" in rules["DS002"]["help"]["text"] and rules["DS002"]["help"]["markdown"]
    assert rules["CVE-2018-20060"]["properties"]["security-severity"] == "9.8"
    results = {r["ruleId"]: r for r in run["results"]}
    secret = results["aws-access-key-id"]
    region = secret["locations"][0]["physicalLocation"]["region"]
    assert secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/.env"
    assert region == {"startLine": 3, "startColumn": 19}
    assert secret["level"] == "error"
    fingerprints = {f.rule_id: f.fingerprint for f in result.findings}
    assert secret["partialFingerprints"][FINGERPRINT_KEY] == fingerprints["aws-access-key-id"]
    assert "region" not in results["EICAR-Test-File"]["locations"][0]["physicalLocation"]
    assert results["EICAR-Test-File"]["level"] == "note"
    assert results["GHSA-j8r2-6x86-q33q"]["level"] == "warning"
    assert results["CVE-2018-20060"]["suppressions"][0]["kind"] == "external"
    assert results["KSV001"]["suppressions"][0]["kind"] == "inSource"
    assert "suppressions" not in results["DS002"]
    assert all(results[r]["ruleIndex"] == list(rules).index(r) for r in results)


def test_cyclonedx_with_vulnerabilities_validates() -> None:
    result = sample_result()
    text = render(OutputFormat.CYCLONEDX, result)
    validate_cyclonedx(text)
    bom = json.loads(text)
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) == {"GHSA-j8r2-6x86-q33q", "CVE-2018-20060"}
    vex = vulns["CVE-2018-20060"]["analysis"]
    assert vex["state"] == "not_affected" and vex["justification"] == "code_not_reachable"
    assert "analysis" not in vulns["GHSA-j8r2-6x86-q33q"]
    refs = {c["bom-ref"] for c in bom["components"]}
    assert all(a["ref"] in refs for v in vulns.values() for a in v["affects"])


def test_cyclonedx_exception_is_accepted_risk() -> None:
    result = sample_result()
    from shieldwall.model import Suppression

    findings = tuple(
        replace(f, suppressions=(Suppression("exception", "x.yaml:3", "accepted", author="bob", expires="2099-01-01"),))
        if f.rule_id == "GHSA-j8r2-6x86-q33q"
        else f
        for f in result.findings
    )
    text = render(OutputFormat.CYCLONEDX, replace(result, findings=findings))
    validate_cyclonedx(text)
    vuln = next(v for v in json.loads(text)["vulnerabilities"] if v["id"] == "GHSA-j8r2-6x86-q33q")
    assert vuln["analysis"]["response"] == ["will_not_fix"] and "bob" in vuln["analysis"]["detail"]


def test_junit_one_case_per_finding_only_gate_violations_fail() -> None:
    result = sample_result()
    root = ET.fromstring(render(OutputFormat.JUNIT, result, sample_verdict(result)))
    cases = root.findall(".//testcase")
    assert len(cases) == len(result.findings)
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    below = [c for c in cases if c.find("system-out") is not None]
    # the sample gate fails on two findings: exactly those two are failures; the other active ones pass
    assert len(failures) == 2 and root.get("failures") == "2"
    assert all(c.find("failure").get("message", "").startswith("gate violation") for c in failures)  # type: ignore[union-attr]
    assert len(below) == sum(1 for f in result.findings if f.active) - 2
    assert all("below the gate" in (c.findtext("system-out") or "") for c in below)
    assert len(skipped) == 3 and root.get("skipped") == "3"
    assert root.get("tests") == str(len(result.findings))


def test_junit_passing_gate_is_a_passing_suite() -> None:
    result = sample_result()
    assert any(f.active for f in result.findings)
    for verdict in (GateVerdict(passed=True, policies=("fail-on critical",)), GateVerdict(passed=True), None):
        root = ET.fromstring(render(OutputFormat.JUNIT, result, verdict))
        assert root.get("failures") == "0" and not root.findall(".//failure")
        assert all(suite.get("failures") == "0" for suite in root.findall("testsuite"))


def test_junit_gate_failing_without_a_finding_still_fails_the_suite() -> None:
    verdict = GateVerdict(
        passed=False,
        policies=("p",),
        failures=(GateFailure("not-a-finding", "db", "stale", Severity.HIGH, FindingKind.VULNERABILITY, "p", "why"),),
    )
    root = ET.fromstring(render(OutputFormat.JUNIT, clean_result(), verdict))
    assert root.get("failures") == "1" and root.find(".//testcase[@name='gate']/failure") is not None


def test_junit_clean_scan_has_a_passing_case() -> None:
    root = ET.fromstring(render(OutputFormat.JUNIT, clean_result()))
    assert root.get("tests") == "1" and root.get("failures") == "0"


def test_markdown_summary() -> None:
    result = sample_result()
    text = render(OutputFormat.MARKDOWN, result, sample_verdict(result))
    assert "❌ **Gate failed** (2 violation(s))" in text
    assert "| ❌ | CRITICAL | Secrets | aws-access-key-id |" in text
    assert "<details><summary>3 suppressed finding(s)</summary>" in text
    passed = render(OutputFormat.MARKDOWN, result, GateVerdict(passed=True, policies=("p",)))
    assert "✅ **Gate passed**" in passed


def test_html_escapes_hostile_text() -> None:
    evil = Finding(
        FindingKind.MISCONFIG,
        "X1",
        "<script>alert(1)</script>",
        Severity.HIGH,
        location=Location('/"><img src=x onerror=alert(1)>'),
    )
    text = render(OutputFormat.HTML, replace(sample_result(), findings=(evil,)))
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert "<img src=x" not in text


def test_html_is_self_contained() -> None:
    text = render(OutputFormat.HTML, sample_result(), sample_verdict())
    assert "default-src 'none'" in text
    for needle in ("<link", 'src="http', "src='http", "@import", "url(http"):
        assert needle not in text
    assert 'id="severity-chart"' in text and "layers" in text


def test_table_lists_fix_and_suppressions() -> None:
    result = sample_result()
    text = render(OutputFormat.TABLE, result, sample_verdict(result))
    assert "Add a USER instruction with a non-root user." in text  # the fix of the misconfiguration
    assert "Suppressed (3)" in text and "legal@example.com" in text
    assert "Gate FAILED: 2 violation(s)" in text
    assert text.rstrip().splitlines()[-1] == summary_line(result, sample_verdict(result))


def test_summary_line() -> None:
    result = sample_result()
    line = summary_line(result, sample_verdict(result))
    assert line.startswith("shieldwall: example/app:1.0: 4 active finding(s) (critical=1 high=1 medium=1 low=1)")
    assert "3 suppressed" in line and line.endswith("gate: FAILED (2 violation(s))")
    assert summary_line(result, GateVerdict(passed=True)).endswith("gate: not configured")


def test_parse_new_output_specs() -> None:
    assert parse_output_spec("sarif=out.sarif") == (OutputFormat.SARIF, "out.sarif")
    assert parse_output_spec("junit=r.xml") == (OutputFormat.JUNIT, "r.xml")
    assert parse_output_spec("html") == (OutputFormat.HTML, "-")
