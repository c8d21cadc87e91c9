"""The JSON report: the ScanResult with computed IDs and fingerprints spelled out."""

from __future__ import annotations

import json
from typing import Any

from shieldwall.model import ScanResult
from shieldwall.model.serialize import converter


def result_to_dict(result: ScanResult) -> dict[str, Any]:
    """Plain JSON-ready data; packages carry ``id``, findings ``fingerprint``."""
    data: dict[str, Any] = converter.unstructure(result)
    for raw, package in zip(data["packages"], result.packages, strict=True):
        raw["id"] = package.id
    for raw, finding in zip(data["findings"], result.findings, strict=True):
        raw["fingerprint"] = finding.fingerprint
    return data


def render_json(result: ScanResult) -> str:
    """Indented, key-stable JSON text."""
    return json.dumps(result_to_dict(result), indent=2, default=str) + "\n"
