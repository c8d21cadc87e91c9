"""Vulnerabilities (with VEX analysis) in the CycloneDX 1.6 document.

``render_cyclonedx`` writes the inventory; this adds one ``vulnerabilities``
entry per vulnerability finding, affecting the component whose ``bom-ref``
is the package id. A finding set aside by a VEX statement carries
``analysis.state: not_affected`` with the statement's justification; one set
aside by an exception carries the accepted risk as ``response: will_not_fix``
with the reason and expiry; active ones have no analysis (not yet triaged).
"""

from __future__ import annotations

import json
from typing import Any

from shieldwall.model import Finding, FindingKind, ScanResult, Severity
from shieldwall.policy.model import suppressions_of
from shieldwall.report.common import ordered

_CDX_JUSTIFICATIONS = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
_CDX_VALUES = {
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
}
_CDX_STATES = {"resolved", "resolved_with_pedigree", "exploitable", "in_triage", "false_positive", "not_affected"}


def add_vulnerabilities(document: str, result: ScanResult) -> str:
    """Return the CycloneDX JSON ``document`` with the result's vulnerability findings added."""
    bom: dict[str, Any] = json.loads(document)
    known = {c.get("bom-ref") for c in bom.get("components", []) if isinstance(c, dict)}
    entries = [
        _entry(f, known)
        for f in ordered([f for f in result.findings if f.kind is FindingKind.VULNERABILITY])
        if f.package_id in known
    ]
    if entries:
        bom["vulnerabilities"] = entries
    return json.dumps(bom, indent=2) + "\n"


def _entry(finding: Finding, known: set[Any]) -> dict[str, Any]:
    fingerprint = finding.fingerprint
    entry: dict[str, Any] = {
        "bom-ref": f"vuln-{fingerprint}",
        "id": finding.rule_id,
        "ratings": [_rating(finding)],
        "affects": [{"ref": finding.package_id}],
        "properties": [{"name": "shieldwall:fingerprint", "value": fingerprint}],
    }
    aliases = [a for a in finding.aliases if a != finding.rule_id]
    if aliases:
        entry["references"] = [{"id": a, "source": {"name": _source_name(a)}} for a in aliases]
    if finding.title:
        entry["description"] = finding.title
    if finding.message:
        entry["detail"] = finding.message
    vuln = finding.vuln
    if vuln is not None:
        if vuln.fixed_version:
            entry["recommendation"] = f"Upgrade to {vuln.fixed_version}"
        if vuln.published:
            entry["published"] = vuln.published
        if vuln.modified:
            entry["updated"] = vuln.modified
        if vuln.kev:
            entry["properties"].append({"name": "shieldwall:kev", "value": "true"})
        if vuln.epss_score is not None:
            entry["properties"].append({"name": "shieldwall:epss", "value": f"{vuln.epss_score:g}"})
    advisories = [{"url": r} for r in finding.references if r.startswith(("http://", "https://"))]
    if advisories:
        entry["advisories"] = advisories
    analysis = _analysis(finding)
    if analysis:
        entry["analysis"] = analysis
    return entry


def _source_name(identifier: str) -> str:
    return identifier.split("-", 1)[0] if "-" in identifier else "shieldwall"


def _rating(finding: Finding) -> dict[str, Any]:
    severity = "unknown" if finding.severity is Severity.UNKNOWN else finding.severity.lower()
    rating: dict[str, Any] = {"severity": severity}
    vuln = finding.vuln
    if vuln is not None and vuln.cvss_score is not None:
        rating["score"] = vuln.cvss_score
        method = {"2": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}.get(vuln.cvss_version)
        if method:
            rating["method"] = method
        if vuln.cvss_vector:
            rating["vector"] = vuln.cvss_vector
    return rating


def _analysis(finding: Finding) -> dict[str, Any]:
    for suppression in suppressions_of(finding):
        details = dict(suppression.statement)
        if suppression.kind == "vex":
            state = details.get("status", "not_affected")
            out: dict[str, Any] = {"state": state if state in _CDX_STATES else "not_affected"}
            justification = details.get("justification", "")
            mapped = _CDX_JUSTIFICATIONS.get(justification, justification)
            if mapped in _CDX_VALUES:
                out["justification"] = mapped
            out["detail"] = suppression.reason
            return out
    for suppression in suppressions_of(finding):
        until = f" (accepted until {suppression.expires})" if suppression.expires else ""
        who = f" by {suppression.author}" if suppression.author else ""
        return {
            "response": ["will_not_fix"],
            "detail": f"{suppression.kind} {suppression.rule}{who}: {suppression.reason}{until}",
        }
    return {}
