"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

One rule per distinct rule ID (with help text and a ``security-severity``
GitHub uses to rank alerts), one result per finding with its location
(path inside the image or the directory; line and column when known),
``partialFingerprints`` carrying the Shieldwall fingerprint so alerts
follow findings across scans, and suppressed findings present with SARIF
``suppressions`` (``inSource`` for in-file comments, ``external`` for
exceptions and VEX).
"""

from __future__ import annotations

import json
from typing import Any

import shieldwall
from shieldwall.model import Finding, ScanResult, Severity
from shieldwall.policy.model import GateVerdict, suppressions_of
from shieldwall.report.common import fix_text, layer_text, ordered, package_index

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/shieldwall/shieldwall"
FINGERPRINT_KEY = "shieldwall/v1"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.UNKNOWN: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.UNKNOWN: "0.0",
}


def sarif_level(severity: Severity) -> str:
    """SARIF ``level`` for a severity: error, warning or note."""
    return _LEVELS[severity]


def render_sarif(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """Serialise ``result``'s findings as one SARIF 2.1.0 run."""
    return json.dumps(sarif_document(result, verdict), indent=2) + "\n"


def sarif_document(result: ScanResult, verdict: GateVerdict | None = None) -> dict[str, Any]:
    """The SARIF log as plain data."""
    findings = ordered(list(result.findings))
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        rule = rules.get(finding.rule_id)
        if rule is None or finding.severity.rank > _rank_of(rule):
            rules[finding.rule_id] = _rule(finding)
    rule_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    packages = package_index(result)
    results = [_result(f, index[f.rule_id], result, packages) for f in findings]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "Shieldwall",
                "version": result.tool_version or shieldwall.__version__,
                "semanticVersion": result.tool_version or shieldwall.__version__,
                "informationUri": INFORMATION_URI,
                "rules": [rules[r] for r in rule_ids],
            }
        },
        "automationDetails": {"id": f"shieldwall/{result.target.ref.kind}/{result.target.name}/"},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "target": str(result.target.ref),
            "targetName": result.target.name,
            "targetDigest": result.target.digest,
        },
    }
    if verdict is not None:
        run["properties"]["gate"] = "passed" if verdict.passed else "failed"
    if result.started_at or result.finished_at:
        invocation: dict[str, Any] = {"executionSuccessful": True}
        if result.started_at:
            invocation["startTimeUtc"] = _utc(result.started_at)
        if result.finished_at:
            invocation["endTimeUtc"] = _utc(result.finished_at)
        if result.warnings:
            invocation["toolExecutionNotifications"] = [
                {"level": "warning", "message": {"text": f"{w.source}: {w.message}" + (f" ({w.path})" * bool(w.path))}}
                for w in result.warnings
            ]
        run["invocations"] = [invocation]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _utc(stamp: str) -> str:
    return stamp.replace("+00:00", "Z")


def _rank_of(rule: dict[str, Any]) -> int:
    return Severity(rule["properties"]["severity"]).rank


def _rule(finding: Finding) -> dict[str, Any]:
    text = finding.message or finding.title
    help_lines = [finding.title, "", text]
    fix = fix_text(finding)
    if fix:
        help_lines += ["", f"Fix: {fix}"]
    if finding.references:
        help_lines += ["", "References:", *(f"- {r}" for r in finding.references)]
    markdown = [f"**{finding.title}**", "", text]
    if fix:
        markdown += ["", f"**Fix:** {fix}"]
    if finding.references:
        markdown += ["", *(f"- <{r}>" for r in finding.references)]
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "name": _rule_name(finding),
        "shortDescription": {"text": finding.title[:1024] or finding.rule_id},
        "fullDescription": {"text": text[:4096] or finding.rule_id},
        "help": {"text": "\n".join(help_lines), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": sarif_level(finding.severity)},
        "properties": {
            "tags": ["security", str(finding.kind)],
            "precision": "high" if _confidence(finding) >= 0.9 else "medium",
            "security-severity": _security_severity(finding),
            "severity": str(finding.severity),
        },
    }
    if finding.references and finding.references[0].startswith(("http://", "https://")):
        rule["helpUri"] = finding.references[0]
    return rule


def _rule_name(finding: Finding) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in f"{finding.kind} {finding.rule_id}")
    return "".join(w[:1].upper() + w[1:] for w in words.split())


def _confidence(finding: Finding) -> float:
    return min((e.confidence for e in finding.evidence), default=1.0)


def _security_severity(finding: Finding) -> str:
    if finding.vuln is not None and finding.vuln.cvss_score is not None:
        return f"{finding.vuln.cvss_score:.1f}"
    return _SECURITY_SEVERITY[finding.severity]


def _uri(path: str) -> str:
    return path.lstrip("/") or "."


def _result(finding: Finding, rule_index: int, result: ScanResult, packages: dict[str, Any]) -> dict[str, Any]:
    message = finding.title
    package = packages.get(finding.package_id)
    if finding.message and finding.message != finding.title:
        message = f"{finding.title}. {finding.message}"
    fix = fix_text(finding)
    if fix:
        message += f" Fix: {fix}"
    out: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": sarif_level(finding.severity),
        "message": {"text": message},
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    location = finding.location
    path = location.path if location else (package.locations[0].path if package and package.locations else "")
    if path:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path)}}
        if location is not None and location.line:
            region: dict[str, Any] = {"startLine": location.line}
            if location.column:
                region["startColumn"] = location.column
            if location.end_line and location.end_line >= location.line:
                region["endLine"] = location.end_line
            physical["region"] = region
        out["locations"] = [{"physicalLocation": physical}]
    else:
        out["locations"] = [
            {"logicalLocations": [{"name": result.target.name or str(result.target.ref), "kind": "module"}]}
        ]
    properties: dict[str, Any] = {"kind": str(finding.kind), "severity": str(finding.severity)}
    if package is not None:
        properties["purl"] = package.purl
        properties["package"] = f"{package.name}@{package.version}"
    if finding.vuln is not None:
        properties["installedVersion"] = finding.vuln.installed_version
        if finding.vuln.fixed_version:
            properties["fixedVersion"] = finding.vuln.fixed_version
        if finding.vuln.kev:
            properties["kev"] = True
        if finding.vuln.epss_score is not None:
            properties["epss"] = finding.vuln.epss_score
    layer = layer_text(finding)
    if layer:
        properties["layer"] = layer
    if finding.aliases:
        properties["aliases"] = list(finding.aliases)
    out["properties"] = properties
    suppressions = suppressions_of(finding)
    if suppressions:
        out["suppressions"] = [
            {
                "kind": "inSource" if s.kind == "inline" else "external",
                "status": "accepted",
                "justification": f"{s.kind} {s.rule}: {s.reason}"
                + (f" (by {s.author}" + (f", until {s.expires})" if s.expires else ")") if s.author else ""),
            }
            for s in suppressions
        ]
    return out
