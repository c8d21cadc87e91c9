"""What every finding report needs: ordering, locations, packages, suppressions, summary counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from shieldwall.model import Finding, FindingKind, Package, ScanResult, Severity, Suppression
from shieldwall.model.text import printable
from shieldwall.policy.model import GateVerdict, suppressions_of

SEVERITIES_DESC = tuple(reversed(list(Severity)))
"""CRITICAL first."""

KIND_TITLES = {
    FindingKind.VULNERABILITY: "Vulnerabilities",
    FindingKind.SECRET: "Secrets",
    FindingKind.SENSITIVE_FILE: "Sensitive files",
    FindingKind.MALWARE: "Malware",
    FindingKind.MISCONFIG: "Misconfigurations",
    FindingKind.LICENSE: "Licences",
}


def kind_title(kind: FindingKind) -> str:
    """Plural heading for a kind (kinds added later get a generated one)."""
    return KIND_TITLES.get(kind) or str(kind).replace("-", " ").capitalize()


def sort_key(finding: Finding) -> tuple[int, str, str, str]:
    """Most severe first, then by rule and place, so every report lists findings in the same order."""
    path = finding.location.path if finding.location else ""
    return (-finding.severity.rank, finding.rule_id, path, finding.fingerprint)


def ordered(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    """``findings`` in report order."""
    return sorted(findings, key=sort_key)


def active_findings(result: ScanResult) -> list[Finding]:
    """Findings nothing suppresses, in report order."""
    return ordered([f for f in result.findings if f.active])


def suppressed_findings(result: ScanResult) -> list[Finding]:
    """Findings set aside by an in-file comment, an exception or VEX, in report order."""
    return ordered([f for f in result.findings if not f.active])


def by_kind(findings: list[Finding]) -> list[tuple[FindingKind, list[Finding]]]:
    """Findings grouped by kind, kinds in a fixed order, empty kinds left out."""
    groups = [(kind, [f for f in findings if f.kind is kind]) for kind in FindingKind]
    return [(kind, items) for kind, items in groups if items]


def location_text(finding: Finding) -> str:
    """``path:line:column`` (or just the path)."""
    loc = finding.location
    if loc is None:
        return ""
    text = loc.path
    if loc.line:
        text += f":{loc.line}"
        if loc.column:
            text += f":{loc.column}"
    return text


def layer_text(finding: Finding) -> str:
    """``layer N`` for findings attributed to an image layer, ``deleted in layer M`` when removed later."""
    loc = finding.location
    parts = []
    if loc is not None and loc.layer is not None and loc.layer.digest:
        parts.append(f"layer {loc.layer.index}")
    if finding.deleted_in is not None:
        parts.append(f"deleted in layer {finding.deleted_in.index}")
    return ", ".join(parts)


def package_index(result: ScanResult) -> dict[str, Package]:
    """Packages by id, for findings that name one."""
    return {p.id: p for p in result.packages}


def fix_text(finding: Finding) -> str:
    """The fix: a fixed version for vulnerabilities, else the finding's own guidance."""
    if finding.fix:
        return finding.fix
    if finding.vuln is not None and finding.vuln.fixed_version:
        return f"upgrade to {finding.vuln.fixed_version}"
    return ""


def suppression_text(suppression: Suppression) -> str:
    """``exception .shieldwallignore.yaml:4 by alice until 2027-01-31: reason``."""
    who = f" by {suppression.author}" if suppression.author else ""
    until = f" until {suppression.expires}" if suppression.expires else ""
    return f"{suppression.kind} {suppression.rule}{who}{until}: {suppression.reason}"


def suppressions_text(finding: Finding) -> str:
    """Every suppression of a finding, ``; ``-joined."""
    return "; ".join(suppression_text(s) for s in suppressions_of(finding))


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts every report prints in its headline."""

    total: int
    active: int
    suppressed: int
    by_severity: tuple[tuple[Severity, int], ...]
    by_kind: tuple[tuple[FindingKind, int], ...]


def summarize(result: ScanResult) -> Summary:
    """Counts of active findings by severity and by kind."""
    active = [f for f in result.findings if f.active]
    sev = Counter(f.severity for f in active)
    kinds = Counter(f.kind for f in active)
    return Summary(
        total=len(result.findings),
        active=len(active),
        suppressed=len(result.findings) - len(active),
        by_severity=tuple((s, sev.get(s, 0)) for s in SEVERITIES_DESC),
        by_kind=tuple((k, kinds[k]) for k in FindingKind if kinds.get(k)),
    )


def summary_line(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """One line for CI logs: target, counts by severity, suppressed, and the gate's verdict."""
    summary = summarize(result)
    counts = " ".join(f"{s.lower()}={n}" for s, n in summary.by_severity if n) or "none"
    line = (
        f"shieldwall: {printable(result.target.name)}: {summary.active} active finding(s) ({counts}),"
        f" {summary.suppressed} suppressed, {len(result.packages)} package(s)"
    )
    if verdict is not None:
        if not verdict.policies:
            line += "; gate: not configured"
        elif verdict.passed:
            line += "; gate: PASSED"
        else:
            line += f"; gate: FAILED ({len(verdict.failures)} violation(s))"
        if verdict.baseline:
            line += f"; {verdict.baseline_known} known in baseline"
    return line
