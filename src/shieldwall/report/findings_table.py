"""Terminal tables for findings other than vulnerabilities, suppressed findings and the gate.

``table.print_table`` prints these after its vulnerability table: one table
per finding kind (severity coloured, with the fix), the suppressed findings
with the rule and reason of each, the gate's verdict and a one-line summary
for CI logs.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.text import Text

from shieldwall.model import FindingKind, ScanResult, Severity
from shieldwall.policy.model import GateVerdict
from shieldwall.report.common import (
    active_findings,
    by_kind,
    fix_text,
    kind_title,
    layer_text,
    location_text,
    package_index,
    summary_line,
    suppressed_findings,
    suppressions_text,
)
from shieldwall.report.safe_text import SafeTable, lines, untrusted

STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.UNKNOWN: "dim",
}


def findings_tables(
    result: ScanResult, verdict: GateVerdict | None = None, *, skip: frozenset[FindingKind] = frozenset()
) -> list[SafeTable]:
    """Active findings, one table per kind (kinds in ``skip`` left out), with the fix for each."""
    packages = package_index(result)
    failing = verdict.failing_fingerprints if verdict is not None else frozenset()
    tables = []
    for kind, items in by_kind(active_findings(result)):
        if kind in skip:
            continue
        table = SafeTable(title=f"{kind_title(kind)} ({len(items)})", header_style="bold")
        table.add_column("Severity", no_wrap=True)
        table.add_column("ID", no_wrap=True, min_width=max(len(f.rule_id) for f in items))
        table.add_column("Package / location", overflow="fold", ratio=3)
        table.add_column("Title", overflow="fold", ratio=4)
        table.add_column("Fix", overflow="fold", ratio=3)
        for finding in items:
            package = packages.get(finding.package_id)
            where = [f"{package.name} {package.version}"] if package else []
            if finding.location:
                where.append(location_text(finding))
            if layer_text(finding):
                where.append(f"({layer_text(finding)})")
            mark = " ✗" if finding.fingerprint in failing else ""
            table.add_row(
                Text(str(finding.severity) + mark, style=STYLES[finding.severity]),
                finding.rule_id,
                lines(where),
                finding.title,
                Text(fix_text(finding), style="green"),
            )
        tables.append(table)
    return tables


def suppressed_table(result: ScanResult) -> SafeTable:
    """Suppressed findings with the rule and reason that set each aside (never dropped)."""
    items = suppressed_findings(result)
    table = SafeTable(title=f"Suppressed ({len(items)})", header_style="bold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("ID", no_wrap=True, min_width=max((len(f.rule_id) for f in items), default=2))
    table.add_column("Location", overflow="fold", ratio=3)
    table.add_column("Suppressed by", overflow="fold", ratio=5)
    for finding in items:
        table.add_row(
            Text(str(finding.severity), style=STYLES[finding.severity]),
            str(finding.kind),
            finding.rule_id,
            location_text(finding),
            suppressions_text(finding),
        )
    return table


def gate_renderable(verdict: GateVerdict) -> RenderableType:
    """The gate's verdict and, on failure, each violation with the policy condition it broke."""
    if not verdict.policies:
        return Text("Gate: not configured (use --fail-on or a policy)", style="dim")
    if verdict.passed:
        return Text(f"Gate PASSED ({', '.join(verdict.policies)})", style="bold green")
    table = SafeTable(title=f"Gate FAILED: {len(verdict.failures)} violation(s)", header_style="bold red")
    table.add_column("Policy")
    table.add_column("Severity", no_wrap=True)
    table.add_column("ID", no_wrap=True, min_width=max((len(f.rule_id) for f in verdict.failures), default=2))
    table.add_column("Why", overflow="fold")
    for failure in verdict.failures:
        table.add_row(
            failure.policy, Text(str(failure.severity), style=STYLES[failure.severity]), failure.rule_id, failure.reason
        )
    return table


def print_findings(
    result: ScanResult,
    console: Console,
    verdict: GateVerdict | None = None,
    *,
    skip: frozenset[FindingKind] = frozenset(),
) -> None:
    """Findings by kind, the suppressed ones, the verdict, and the one-line summary."""
    for table in findings_tables(result, verdict, skip=skip):
        console.print(table)
    if any(not f.active for f in result.findings):
        console.print(suppressed_table(result))
    if verdict is not None:
        console.print(gate_renderable(verdict))
    console.print(untrusted(summary_line(result, verdict)), highlight=False, soft_wrap=True)
