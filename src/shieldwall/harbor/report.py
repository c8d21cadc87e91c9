"""Scan results as Harbor reports: ``HarborVulnerabilityReport`` and ``HarborSbomReport`` (spec v1.2).

Vulnerabilities only (Harbor's vulnerability report has no place for
secrets or misconfigurations); a finding set aside by a suppression is
left out, as Harbor has no suppressed state. The overall ``severity`` is the
highest one reported, ``Unknown`` when there is none (the specification's
enum has no "none").
"""

from __future__ import annotations

import json
from typing import Any

from shieldwall import __version__
from shieldwall.harbor.mime import CYCLONEDX_JSON, SPDX_JSON
from shieldwall.model import Finding, FindingKind, ScanResult, Severity

SCANNER = {"name": "Shieldwall", "vendor": "Shieldwall", "version": __version__}
_SEVERITY = {
    Severity.UNKNOWN: "Unknown",
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Critical",
}


def _links(finding: Finding) -> list[str]:
    return [ref for ref in finding.references if ref.startswith(("https://", "http://"))][:20]


def _item(finding: Finding, packages: dict[str, tuple[str, str]]) -> dict[str, Any]:
    name, version = packages.get(finding.package_id, ("", ""))
    vuln = finding.vuln
    item: dict[str, Any] = {
        "id": finding.rule_id,
        "package": name,
        "version": vuln.installed_version if vuln and vuln.installed_version else version,
        "fix_version": vuln.fixed_version if vuln else "",
        "severity": _SEVERITY[finding.severity],
        "description": finding.message or finding.title,
        "links": _links(finding),
    }
    if vuln is not None and vuln.cvss_score is not None:
        key = "v3" if vuln.cvss_version.startswith("3") or vuln.cvss_vector.startswith("CVSS:3") else "v2"
        item["preferred_cvss"] = {f"score_{key}": vuln.cvss_score, f"vector_{key}": vuln.cvss_vector}
    attributes: dict[str, Any] = {"fingerprint": finding.fingerprint}
    if finding.aliases:
        attributes["aliases"] = list(finding.aliases)
    if vuln is not None and vuln.kev:
        attributes["kev"] = True
    if vuln is not None and vuln.epss_score is not None:
        attributes["epss"] = vuln.epss_score
    item["vendor_attributes"] = attributes
    layer = finding.location.layer if finding.location else None
    if layer is not None and layer.digest:
        item["layer"] = {"digest": layer.digest}
    return item


def vulnerability_report(result: ScanResult, artifact: dict[str, str], generated_at: str) -> dict[str, Any]:
    """The ``HarborVulnerabilityReport`` of ``result``."""
    packages = {p.id: (p.name, p.version) for p in result.packages}
    findings = [f for f in result.findings if f.kind is FindingKind.VULNERABILITY and f.active]
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.package_id))
    top = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.UNKNOWN)
    return {
        "generated_at": generated_at,
        "artifact": artifact,
        "scanner": dict(SCANNER),
        "severity": _SEVERITY[top],
        "vulnerabilities": [_item(f, packages) for f in findings],
    }


def sbom_report(result: ScanResult, artifact: dict[str, str], generated_at: str, media_type: str) -> dict[str, Any]:
    """The ``HarborSbomReport`` of ``result`` in SPDX 2.3 JSON or CycloneDX JSON."""
    from shieldwall.report.formats import OutputFormat, render

    if media_type == SPDX_JSON:
        document = json.loads(render(OutputFormat.SPDX, result))
    elif media_type == CYCLONEDX_JSON:
        document = json.loads(render(OutputFormat.CYCLONEDX, result))
    else:
        raise ValueError(f"unsupported SBOM media type: {media_type}")
    return {
        "generated_at": generated_at,
        "artifact": artifact,
        "scanner": dict(SCANNER),
        "vendor_attributes": {"packages": len(result.packages)},
        "media_type": media_type,
        "sbom": document,
    }
