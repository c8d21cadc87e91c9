"""Human-readable terminal output with Rich."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from shieldwall.match.filters import severity_summary
from shieldwall.model import Finding, FindingKind, ScanResult
from shieldwall.model.text import printable
from shieldwall.policy.model import GateVerdict
from shieldwall.report.findings_table import print_findings
from shieldwall.report.safe_text import SafeTable


def summary_renderable(result: ScanResult) -> RenderableType:
    """Target identity, OS and image config in one panel."""
    lines = [Text.assemble(("Target  ", "bold"), printable(result.target.name))]
    if result.target.digest:
        lines.append(Text.assemble(("Digest  ", "bold"), result.target.digest))
    if result.os:
        eol = f" (EOL {result.os.eol_date}, {result.os.eol_status})" if result.os.eol_date else ""
        lines.append(Text.assemble(("OS      ", "bold"), printable(f"{result.os.pretty_name}{eol}")))
    if result.image:
        img = result.image
        lines.append(
            Text.assemble(
                ("Platform", "bold"), f" {img.platform}   ", ("User ", "bold"), printable(img.user) or "root (default)"
            )
        )
        if img.entrypoint or img.cmd:
            lines.append(Text.assemble(("Runs    ", "bold"), printable(" ".join(img.entrypoint + img.cmd))))
        if img.exposed_ports:
            lines.append(Text.assemble(("Ports   ", "bold"), printable(", ".join(img.exposed_ports))))
    counts = Counter(str(p.type) for p in result.packages)
    by_type = ", ".join(f"{t} {n}" for t, n in counts.most_common())
    lines.append(Text.assemble(("Packages", "bold"), f" {len(result.packages)} ({by_type})" if by_type else " 0"))
    if result.layers:
        lines.append(Text.assemble(("Layers  ", "bold"), str(len(result.layers))))
    if result.warnings:
        lines.append(Text.assemble(("Warnings", "bold yellow"), f" {len(result.warnings)}"))
    return Panel(Group(*lines), title="Shieldwall", expand=False)


def layers_table(result: ScanResult) -> SafeTable:
    """One row per layer: its instruction and how many packages it introduced."""
    introduced = Counter(p.introduced_by.index for p in result.packages if p.introduced_by and p.introduced_by.digest)
    table = SafeTable(title="Layers", header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("Diff ID", no_wrap=True)
    table.add_column("Created by", overflow="fold")
    table.add_column("Packages", justify="right")
    for layer in result.layers:
        created = layer.created_by.removeprefix("/bin/sh -c ").removeprefix("#(nop) ").strip()
        table.add_row(str(layer.index), layer.digest[7:19], created, str(introduced.get(layer.index, 0)))
    return table


def packages_table(result: ScanResult) -> SafeTable:
    """One row per package: name, version, type, layer that introduced it, path."""
    table = SafeTable(title="Packages", header_style="bold")
    table.add_column("Name", overflow="fold", ratio=3)
    table.add_column("Version", overflow="fold", ratio=2)
    table.add_column("Type", no_wrap=True)
    table.add_column("Layer", justify="right", no_wrap=True)
    table.add_column("Path", overflow="fold", ratio=5)
    for pkg in sorted(result.packages, key=lambda p: (str(p.type), p.name.lower(), p.version)):
        layer = pkg.introduced_by
        table.add_row(
            pkg.name,
            pkg.version,
            str(pkg.type),
            str(layer.index) if layer and layer.digest else "",
            pkg.locations[0].path if pkg.locations else "",
        )
    return table


def warnings_table(result: ScanResult) -> SafeTable:
    """Skipped or crashed work, so nothing is silently missing."""
    table = SafeTable(title="Warnings", header_style="bold yellow")
    table.add_column("Source")
    table.add_column("Path", overflow="fold")
    table.add_column("Message", overflow="fold")
    for warning in result.warnings:
        table.add_row(warning.source, warning.path, warning.message)
    return table


SEVERITY_STYLES = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "UNKNOWN": "dim"}


def vulnerabilities_table(result: ScanResult) -> SafeTable:
    """One row per vulnerability finding, most severe first, with a summary by severity as caption."""
    vulns = [f for f in result.findings if f.kind is FindingKind.VULNERABILITY and f.active]
    names = {p.id: p.name for p in result.packages}
    table = SafeTable(title="Vulnerabilities", header_style="bold", caption=severity_summary(vulns))
    table.add_column("Package", overflow="fold")
    table.add_column("Installed", overflow="fold")
    table.add_column("Fixed", overflow="fold")
    table.add_column("ID", overflow="fold")
    table.add_column("Severity")
    table.add_column("Title", overflow="ellipsis", max_width=60)
    for f in sorted(vulns, key=lambda f: (-f.severity.rank, names.get(f.package_id, ""), f.rule_id)):
        installed = f.vuln.installed_version if f.vuln else ""
        fixed = f.vuln.fixed_version if f.vuln else ""
        severity = Text(f.severity.value, style=SEVERITY_STYLES.get(f.severity.value, ""))
        table.add_row(names.get(f.package_id, f.package_id), installed, fixed, f.rule_id, severity, f.title)
    return table


def secret_layer_text(finding: Finding) -> str:
    """``present in layer 2, deleted in layer 4 (still in the image)`` for image findings."""
    loc = finding.location
    parts = []
    if loc is not None and loc.layer is not None and (loc.layer.digest or loc.path.startswith("image-config:")):
        parts.append(f"present in layer {loc.layer.index}")
    if finding.deleted_in is not None:
        parts.append(f"deleted in layer {finding.deleted_in.index} (still in the image)")
    return ", ".join(parts)


def secrets_table(result: ScanResult) -> SafeTable:
    """Secrets and sensitive files: rule, path:line, layer, deleted-in, the redacted match (never the secret)."""
    kinds = (FindingKind.SECRET, FindingKind.SENSITIVE_FILE)
    items = [f for f in result.findings if f.kind in kinds and f.active]
    table = SafeTable(title=f"Secrets and sensitive files ({len(items)})", header_style="bold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", overflow="fold", ratio=2)
    table.add_column("Path:line", overflow="fold", ratio=3)
    table.add_column("Layer", overflow="fold", ratio=2)
    table.add_column("Match", overflow="fold", ratio=3)
    for f in sorted(items, key=lambda f: (-f.severity.rank, f.location.path if f.location else "", f.rule_id)):
        loc = f.location
        where = (loc.path + (f":{loc.line}" if loc.line else "")) if loc else ""
        shown = f.evidence[0].found if f.evidence else f.message
        severity = Text(f.severity.value, style=SEVERITY_STYLES.get(f.severity.value, ""))
        table.add_row(severity, f.rule_id, where, secret_layer_text(f), shown)
    return table


def render_table(result: ScanResult, *, width: int = 160, verdict: GateVerdict | None = None) -> str:
    """The whole table report as text (used for ``--output table=PATH``)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_table(result, console, verdict)
    return console.export_text()


def print_table(result: ScanResult, console: Console, verdict: GateVerdict | None = None) -> None:
    """Print the table report to a console."""
    console.print(summary_renderable(result))
    if result.layers:
        console.print(layers_table(result))
    if result.packages:
        console.print(packages_table(result))
    if any(f.kind is FindingKind.VULNERABILITY and f.active for f in result.findings):
        console.print(vulnerabilities_table(result))
    if any(f.kind in (FindingKind.SECRET, FindingKind.SENSITIVE_FILE) and f.active for f in result.findings):
        console.print(secrets_table(result))
    if result.warnings:
        console.print(warnings_table(result))
    secret_kinds = {FindingKind.SECRET, FindingKind.SENSITIVE_FILE}
    print_findings(result, console, verdict, skip=frozenset({FindingKind.VULNERABILITY, *secret_kinds}))
