"""The compliance report as one self-contained HTML file, in the look of the scan's HTML report.

It uses the report's Jinja2 conventions (autoescape on, a Content-Security-Policy
that loads nothing, inline CSS with print rules) and its severity colours, so
an auditor gets the same kind of file from ``shieldwall scan -f html`` and from
the dashboard's compliance export.
"""

from __future__ import annotations

import datetime as dt

from jinja2 import Environment, PackageLoader, select_autoescape

from shieldwall import __version__
from shieldwall.misconfig.compliance import ComplianceReport, Status
from shieldwall.report.html import SEVERITY_COLOURS


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("shieldwall.api", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_compliance_html(report: ComplianceReport, *, generated: dt.datetime | None = None) -> str:
    """The whole compliance report as one HTML document."""
    when = (generated or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    return (
        _environment()
        .get_template("compliance_report.html.j2")
        .render(
            report=report,
            passed=report.count(Status.PASS),
            failed=report.count(Status.FAIL),
            error=report.count(Status.ERROR),
            not_applicable=report.count(Status.NOT_APPLICABLE),
            colours={str(s): c for s, c in SEVERITY_COLOURS.items()},
            generated=when,
            version=__version__,
        )
    )
