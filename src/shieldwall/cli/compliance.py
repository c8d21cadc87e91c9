"""``shieldwall compliance <framework> <target>``: a per-control report over a scan.

``cli/main.py`` registers :func:`compliance` as a command (a Typer sub-app would
be a group and need a sub-command name: ``shieldwall compliance run ...``).
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from shieldwall.misconfig.compliance import (
    SELECTOR,
    ComplianceReport,
    Status,
    evaluate,
    framework_ids,
    inputs_present,
    load_framework,
    report_json,
)
from shieldwall.report.safe_text import SafeTable


class ReportFormat(StrEnum):
    """Output formats of the compliance report."""

    TABLE = "table"
    JSON = "json"


_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold yellow", Status.NOT_APPLICABLE: "dim"}


def print_report(report: ComplianceReport, console: Console, *, show_na: bool = True, max_findings: int = 5) -> None:
    """The table form: one row per control, its findings under it."""
    fw = report.framework
    console.print(f"[bold]{escape(fw.title)}[/] ({escape(fw.id)}) -- target {escape(report.target)}", highlight=False)
    table = SafeTable(show_lines=False, expand=False)
    table.add_column("Control", no_wrap=True)
    table.add_column("Title")
    table.add_column("Status", no_wrap=True)
    table.add_column("Findings / reason")
    for result in report.results:
        if result.status is Status.NOT_APPLICABLE and not show_na:
            continue
        lines = []
        for finding in result.findings[:max_findings]:
            where = finding.location.path if finding.location else ""
            if finding.location and finding.location.line:
                where += f":{finding.location.line}"
            lines.append(f"{finding.rule_id} {finding.severity.value} {where} {finding.message}")
        if len(result.findings) > max_findings:
            lines.append(f"... and {len(result.findings) - max_findings} more")
        if result.suppressed:
            lines.append(f"({len(result.suppressed)} suppressed)")
        detail = "\n".join(lines) if lines else result.reason
        status = result.status.value
        table.add_row(
            result.control.id, escape(result.control.title), f"[{_STYLE[result.status]}]{status}[/]", escape(detail)
        )
    console.print(table)
    score = (
        "no score: no control applies to this target"
        if report.percent is None
        else f"[bold]{report.percent:.1f}%[/] of applicable controls pass"
    )
    console.print(
        f"{report.count(Status.PASS)} pass, {report.count(Status.FAIL)} fail, {report.count(Status.ERROR)} error, "
        f"{report.count(Status.NOT_APPLICABLE)} not applicable -- {score}",
        highlight=False,
    )


def compliance(
    framework: Annotated[str, typer.Argument(help=f"Framework ID ({', '.join(framework_ids())}) or a YAML file.")],
    target: Annotated[str, typer.Argument(help="Any target kind `scan` accepts.")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="table or json.")] = ReportFormat.TABLE,
    output: Annotated[str, typer.Option("--output", "-o", help="File to write; '-' is stdout.")] = "-",
    hide_na: Annotated[bool, typer.Option("--hide-na", help="Leave not-applicable controls out of the table.")] = False,
    platform: Annotated[str, typer.Option("--platform", help="os/arch to pick from a multi-platform image.")] = "",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not fill the per-layer cache.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Scan TARGET and report, per control of FRAMEWORK, pass / fail / not applicable with the findings.

    The percentage counts passing controls among the applicable ones.
    """
    from shieldwall.cli.common import guarded as _guarded
    from shieldwall.cli.common import run_scan as _run_scan
    from shieldwall.cli.common import scan_options as _options
    from shieldwall.cli.common import write_output as _write
    from shieldwall.misconfig.registry import config_from_environment, load_checks

    fw = _guarded(lambda: load_framework(framework), debug)
    wanted = {"misconfig"}
    for control in fw.controls:
        for ref in control.checks:
            if ref.startswith(SELECTOR):
                kind = ref.removeprefix(SELECTOR).split(":", 1)[0]
                wanted.add({"vulnerability": "vuln", "sensitive-file": "secret"}.get(kind, kind))
    options = _guarded(lambda: _options(platform, no_cache, ",".join(sorted(wanted))), debug)
    result = _guarded(lambda: _run_scan(target, options, quiet), debug)
    checks = _guarded(lambda: load_checks(config_from_environment()), debug)
    present = _guarded(lambda: inputs_present(result, options.limits), debug)
    report = evaluate(fw, result, checks, present, options.scanners)
    if format is ReportFormat.JSON:
        _write(report_json(report), output)
        return
    if output == "-":
        print_report(report, Console(), show_na=not hide_na)
        return
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=160, file=sink)
        print_report(report, console, show_na=not hide_na)
    _write(console.export_text(), output)
