"""Output formats: one enum, one dispatcher; mypy reports a format without a branch."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, assert_never

from shieldwall.errors import InputError

if TYPE_CHECKING:  # the CLI imports this module for its --format choices: keep it light
    from shieldwall.model import ScanResult
    from shieldwall.policy.model import GateVerdict


class OutputFormat(StrEnum):
    """Formats ``--format`` and ``--output FORMAT=PATH`` accept."""

    TABLE = "table"
    JSON = "json"
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


def render(fmt: OutputFormat, result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """Render ``result`` in ``fmt``; ``verdict`` (the gate's outcome) is shown by formats that have a place for it.

    Text formats (JUnit XML, Markdown, HTML) pass through ``printable``: control characters from
    untrusted names are escaped (XML 1.0 cannot carry them; a terminal showing the file must not
    interpret them). JSON formats escape them by construction.
    """
    from shieldwall.model.text import printable

    match fmt:
        case OutputFormat.TABLE:
            from shieldwall.report.table import render_table

            return render_table(result, verdict=verdict)
        case OutputFormat.JSON:
            from shieldwall.report.json_report import render_json

            return render_json(result, verdict)
        case OutputFormat.CYCLONEDX:
            from shieldwall.report.cyclonedx import render_cyclonedx
            from shieldwall.report.cyclonedx_vex import add_vulnerabilities

            return add_vulnerabilities(render_cyclonedx(result), result)
        case OutputFormat.SPDX:
            from shieldwall.report.spdx import render_spdx

            return render_spdx(result)
        case OutputFormat.SARIF:
            from shieldwall.report.sarif import render_sarif

            return render_sarif(result, verdict)
        case OutputFormat.JUNIT:
            from shieldwall.report.junit import render_junit

            return printable(render_junit(result, verdict), keep_newlines=True)
        case OutputFormat.MARKDOWN:
            from shieldwall.report.markdown import render_markdown

            return printable(render_markdown(result, verdict), keep_newlines=True)
        case OutputFormat.HTML:
            from shieldwall.report.html import render_html

            return printable(render_html(result, verdict), keep_newlines=True)
        case _:
            assert_never(fmt)


def parse_output_spec(spec: str) -> tuple[OutputFormat, str]:
    """``FORMAT=PATH`` (``-`` or no path: standard output)."""
    name, _, path = spec.partition("=")
    try:
        fmt = OutputFormat(name.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise InputError(f"unknown output format {name!r} (choose from {choices})") from None
    return fmt, path.strip() or "-"
