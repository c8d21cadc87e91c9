"""A Markdown summary for pull-request comments: verdict, counts, the findings to act on."""

from __future__ import annotations

from shieldwall.model import Finding, Package, ScanResult
from shieldwall.policy.model import GateVerdict
from shieldwall.report.common import (
    active_findings,
    fix_text,
    kind_title,
    location_text,
    package_index,
    summarize,
    suppressed_findings,
    suppressions_text,
)

MAX_ROWS = 50
"""A PR comment is read, not scrolled: the rest is counted."""

_ICONS = {"CRITICAL": "🟥", "HIGH": "🟧", "MEDIUM": "🟨", "LOW": "🟦", "UNKNOWN": "⬜"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def render_markdown(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """The summary as GitHub-flavoured Markdown."""
    summary = summarize(result)
    packages = package_index(result)
    lines = [f"## Shieldwall: `{_cell(result.target.name)}`", ""]
    if verdict is not None and verdict.policies:
        failed = f"❌ **Gate failed** ({len(verdict.failures)} violation(s))"
        status = "✅ **Gate passed**" if verdict.passed else failed
        lines += [f"{status} — policies: {', '.join(verdict.policies)}", ""]
        if verdict.baseline:
            lines += [f"Baseline `{verdict.baseline}`: {verdict.baseline_known} finding(s) already known.", ""]
    lines += ["| Severity | Active |", "|---|---:|"]
    lines += [f"| {_ICONS[str(s)]} {s} | {n} |" for s, n in summary.by_severity]
    counts = f"**{summary.active}** active, **{summary.suppressed}** suppressed, {len(result.packages)} packages."
    lines += ["", counts, ""]
    active = active_findings(result)
    if active:
        failing = verdict.failing_fingerprints if verdict is not None else frozenset()
        lines += ["| | Severity | Kind | ID | Where | Fix |", "|---|---|---|---|---|---|"]
        for finding in active[:MAX_ROWS]:
            mark = "❌" if finding.fingerprint in failing else ""
            lines.append(
                f"| {mark} | {finding.severity} | {kind_title(finding.kind)} | {_cell(finding.rule_id)} |"
                f" {_cell(_where(finding, packages))} | {_cell(fix_text(finding))} |"
            )
        if len(active) > MAX_ROWS:
            lines.append(f"\n… and {len(active) - MAX_ROWS} more active finding(s); see the full report.")
        lines.append("")
    else:
        lines += ["No active findings.", ""]
    suppressed = suppressed_findings(result)
    if suppressed:
        lines += [f"<details><summary>{len(suppressed)} suppressed finding(s)</summary>", ""]
        lines += ["| ID | Where | Suppressed by |", "|---|---|---|"]
        for finding in suppressed[:MAX_ROWS]:
            why = _cell(suppressions_text(finding))
            lines.append(f"| {_cell(finding.rule_id)} | {_cell(_where(finding, packages))} | {why} |")
        lines += ["", "</details>", ""]
    if result.warnings:
        lines += [f"⚠️ {len(result.warnings)} warning(s): see the full report.", ""]
    return "\n".join(lines)


def _where(finding: Finding, packages: dict[str, Package]) -> str:
    package = packages.get(finding.package_id)
    if package is not None:
        return f"{package.name}@{package.version}"
    return location_text(finding)
