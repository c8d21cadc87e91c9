"""What ``scan --severity`` (every finding kind) and ``--ignore-unfixed`` (vulnerabilities) leave in a result."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from shieldwall.errors import InputError
from shieldwall.model import Finding, FindingKind, ScanResult, Severity


def parse_severities(text: str) -> frozenset[Severity]:
    """``LOW,MEDIUM`` -> the set of severities; ``InputError`` naming the valid ones otherwise."""
    out = set()
    for part in text.split(","):
        word = part.strip().upper()
        if not word:
            continue
        try:
            out.add(Severity(word))
        except ValueError:
            valid = ", ".join(s.value for s in Severity)
            raise InputError(f"unknown severity {part.strip()!r} (choose from {valid})") from None
    if not out:
        raise InputError("--severity needs at least one severity")
    return frozenset(out)


def _keep(finding: Finding, severities: frozenset[Severity] | None, ignore_unfixed: bool) -> bool:
    if severities is not None and finding.severity not in severities:
        return False  # every kind: vulnerabilities, secrets, malware, misconfigurations, licences
    if finding.kind is not FindingKind.VULNERABILITY:
        return True
    return not (ignore_unfixed and not (finding.vuln and finding.vuln.fixed_version))


def filter_vulnerabilities(
    result: ScanResult, severities: frozenset[Severity] | None = None, ignore_unfixed: bool = False
) -> ScanResult:
    """The result without findings (of any kind) outside ``severities``, nor vulnerabilities without a fix."""
    if severities is None and not ignore_unfixed:
        return result
    kept = tuple(f for f in result.findings if _keep(f, severities, ignore_unfixed))
    return replace(result, findings=kept)


def severity_counts(findings: tuple[Finding, ...] | list[Finding]) -> list[tuple[Severity, int]]:
    """Vulnerability counts by severity, most severe first, zero counts left out."""
    counts = Counter(f.severity for f in findings if f.kind is FindingKind.VULNERABILITY)
    return [(s, counts[s]) for s in sorted(Severity, key=lambda s: -s.rank) if counts[s]]


def severity_summary(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """``Vulnerabilities: 3 CRITICAL, 5 HIGH`` (``Vulnerabilities: 0`` when there are none)."""
    counts = severity_counts(findings)
    if not counts:
        return "Vulnerabilities: 0"
    return "Vulnerabilities: " + ", ".join(f"{n} {s.value}" for s, n in counts)
