"""Baseline mode: a previous Shieldwall JSON report; the gate then fails only on new findings.

Findings are matched by fingerprint, which does not depend on line numbers
or scan time, so moving code around does not make an old finding new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shieldwall.errors import InputError

MAX_BASELINE_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class Baseline:
    """The fingerprints a previous report held."""

    source: str
    fingerprints: frozenset[str]


def load_baseline(path: Path) -> Baseline:
    """Read the fingerprints of a Shieldwall JSON report (``--output json=...`` of an earlier run)."""
    try:
        size = path.stat().st_size
        if size > MAX_BASELINE_BYTES:
            raise InputError(f"{path}: baseline report is {size} bytes, more than {MAX_BASELINE_BYTES}")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path}: baseline report not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: baseline is not a JSON report: {exc}") from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(data, dict) or "schema_version" not in data or not isinstance(findings, list):
        raise InputError(f"{path}: not a Shieldwall JSON report (no schema_version/findings)")
    prints: set[str] = set()
    for index, finding in enumerate(findings):
        fingerprint = finding.get("fingerprint") if isinstance(finding, dict) else None
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InputError(f"{path}: findings[{index}] has no fingerprint")
        prints.add(fingerprint)
    return Baseline(str(path), frozenset(prints))
