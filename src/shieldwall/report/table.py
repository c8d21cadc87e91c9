"""Human-readable terminal output with Rich."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from shieldwall.match.filters import severity_summary
from shieldwall.model import Finding, FindingKind, Package, ScanResult
from shieldwall.model.text import printable
from shieldwall.policy.model import GateVerdict
from shieldwall.report.common import location_text
from shieldwall.report.findings_table import print_findings
from shieldwall.report.safe_text import SafeTable


def summary_lines(result: ScanResult, *, list_packages: bool = False) -> list[Text]:
    """Target identity, OS, image config and counts, one ``Text`` per line."""
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
    hint = "" if list_packages or not result.packages else " (--list-packages lists them)"
    lines.append(Text.assemble(("Packages", "bold"), f" {len(result.packages)} ({by_type}){hint}" if by_type else " 0"))
    if result.layers:
        lines.append(Text.assemble(("Layers  ", "bold"), str(len(result.layers))))
    if result.warnings:
        lines.append(Text.assemble(("Warnings", "bold yellow"), f" {len(result.warnings)}"))
    return lines


def summary_renderable(result: ScanResult, *, width: int | None = None, list_packages: bool = False) -> RenderableType:
    """The summary in a panel, or as plain lines when a panel would not fit ``width`` (no digest broken)."""
    lines = summary_lines(result, list_packages=list_packages)
    if width is not None and max(line.cell_len for line in lines) + 4 > width:
        return Group(Text("Shieldwall", style="bold"), *lines)
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


def _package_cell(name: str, installed: str, fixed: str) -> Text:
    text = Text(printable(f"{name} {installed}".strip()))
    if fixed:
        text.append("\n→ ")
        text.append(printable(fixed), style="green")
    return text


def vulnerabilities_table(result: ScanResult) -> SafeTable:
    """One row per vulnerability finding, most severe first, with where it was found; by severity as caption.

    IDs never wrap; the package, location and title fold, so the table fits 80 columns.
    """
    vulns = [f for f in result.findings if f.kind is FindingKind.VULNERABILITY and f.active]
    packages = {p.id: p for p in result.packages}
    table = SafeTable(title="Vulnerabilities", header_style="bold", caption=severity_summary(vulns))
    table.add_column("Severity", no_wrap=True)
    table.add_column("ID", no_wrap=True, min_width=max((len(f.rule_id) for f in vulns), default=2))
    table.add_column("Package → fixed", overflow="fold", ratio=3)
    table.add_column("Location", overflow="fold", ratio=3)
    table.add_column("Title", overflow="fold", ratio=4)

    def name(f: Finding) -> str:
        pkg = packages.get(f.package_id)
        return pkg.name if pkg else f.package_id

    for f in sorted(vulns, key=lambda f: (-f.severity.rank, name(f), f.rule_id, _where(f, packages))):
        installed = f.vuln.installed_version if f.vuln else ""
        fixed = f.vuln.fixed_version if f.vuln else ""
        severity = Text(f.severity.value, style=SEVERITY_STYLES.get(f.severity.value, ""))
        table.add_row(severity, f.rule_id, _package_cell(name(f), installed, fixed), _where(f, packages), f.title)
    return table


def _where(finding: Finding, packages: dict[str, Package]) -> str:
    """The finding's location (else its package's first), and how many other places hold the package."""
    pkg = packages.get(finding.package_id)
    paths = list(dict.fromkeys(loc.path for loc in pkg.locations)) if pkg is not None else []
    if finding.location is not None:
        where = location_text(finding)
        others = [p for p in paths if p != finding.location.path]
    elif paths:
        where, others = paths[0], paths[1:]
    else:
        return ""
    return where + (f" (+{len(others)} more)" if others else "")


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
    table.add_column("Rule", no_wrap=True, min_width=max((len(f.rule_id) for f in items), default=4))
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


def render_table(
    result: ScanResult, *, width: int = 160, verdict: GateVerdict | None = None, list_packages: bool = False
) -> str:
    """The whole table report as text (used for ``--output table=PATH``)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_table(result, console, verdict, list_packages=list_packages)
    return console.export_text()


def print_table(
    result: ScanResult, console: Console, verdict: GateVerdict | None = None, *, list_packages: bool = False
) -> None:
    """Print the table report: the findings (and, with ``list_packages``, the whole inventory)."""
    console.print(summary_renderable(result, width=console.width, list_packages=list_packages))
    if result.layers and list_packages:
        console.print(layers_table(result))
    if result.packages and list_packages:
        console.print(packages_table(result))
    if any(f.kind is FindingKind.VULNERABILITY and f.active for f in result.findings):
        console.print(vulnerabilities_table(result))
    if any(f.kind in (FindingKind.SECRET, FindingKind.SENSITIVE_FILE) and f.active for f in result.findings):
        console.print(secrets_table(result))
    if result.warnings:
        console.print(warnings_table(result))
    secret_kinds = {FindingKind.SECRET, FindingKind.SENSITIVE_FILE}
    print_findings(result, console, verdict, skip=frozenset({FindingKind.VULNERABILITY, *secret_kinds}))
