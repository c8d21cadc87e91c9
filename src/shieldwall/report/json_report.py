"""The JSON report: the ScanResult with computed IDs and fingerprints spelled out.

Its shape is documented by the JSON Schema ``schemas/shieldwall-report-1.json``
(shipped as ``shieldwall/schemas/shieldwall-report-1.json``); the major number
of ``schema_version`` changes only on an incompatible change.
"""

from __future__ import annotations

import json
from typing import Any

from shieldwall.model import ScanResult
from shieldwall.model.serialize import converter
from shieldwall.policy.model import GateVerdict


def result_to_dict(result: ScanResult, verdict: GateVerdict | None = None) -> dict[str, Any]:
    """Plain JSON-ready data; packages carry ``id``, findings ``fingerprint`` and ``active``; ``gate`` the verdict."""
    data: dict[str, Any] = converter.unstructure(result)
    for raw, package in zip(data["packages"], result.packages, strict=True):
        raw["id"] = package.id
    for raw, finding in zip(data["findings"], result.findings, strict=True):
        raw["fingerprint"] = finding.fingerprint
        raw["active"] = finding.active
    if verdict is not None:
        data["gate"] = verdict_to_dict(verdict)
    return data


def verdict_to_dict(verdict: GateVerdict) -> dict[str, Any]:
    """The gate's verdict as JSON data (fingerprint sets as sorted lists)."""
    return {
        "passed": verdict.passed,
        "policies": list(verdict.policies),
        "failures": [converter.unstructure(f) for f in verdict.failures],
        "active": verdict.active,
        "suppressed": verdict.suppressed,
        "baseline": verdict.baseline,
        "baseline_known": verdict.baseline_known,
        "new_fingerprints": sorted(verdict.new_fingerprints),
    }


def render_json(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """Indented, key-stable JSON text."""
    return json.dumps(result_to_dict(result, verdict), indent=2, default=str) + "\n"
