"""A self-contained HTML report: one file, no network, readable offline and attachable to a CI run.

Everything is inline: CSS, a severity chart drawn as SVG on the server, and a
few lines of JavaScript for filtering. Text from the scan is autoescaped by
Jinja2 (a hostile file name or package name cannot inject markup), and a
Content-Security-Policy forbids loading anything from anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from shieldwall.model import Finding, FindingKind, ScanResult, Severity
from shieldwall.policy.model import GateVerdict, suppressions_of
from shieldwall.report.common import (
    SEVERITIES_DESC,
    by_kind,
    fix_text,
    kind_title,
    layer_text,
    location_text,
    ordered,
    package_index,
    summarize,
    summary_line,
    suppression_text,
)

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#b71c1c",
    Severity.HIGH: "#e65100",
    Severity.MEDIUM: "#f9a825",
    Severity.LOW: "#1565c0",
    Severity.UNKNOWN: "#757575",
}


@dataclass(frozen=True, slots=True)
class _Bar:
    severity: str
    count: int
    colour: str
    x: int
    width: int
    y: int


@dataclass(frozen=True, slots=True)
class _Row:
    finding: Finding
    location: str
    layer: str
    package: str
    fix: str
    suppressions: tuple[str, ...]
    failing: bool


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("shieldwall.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """The whole report as one HTML document."""
    summary = summarize(result)
    packages = package_index(result)
    failing = verdict.failing_fingerprints if verdict is not None else frozenset()

    def row(finding: Finding) -> _Row:
        package = packages.get(finding.package_id)
        return _Row(
            finding=finding,
            location=location_text(finding),
            layer=layer_text(finding),
            package=f"{package.name} {package.version}" if package else "",
            fix=fix_text(finding),
            suppressions=tuple(suppression_text(s) for s in suppressions_of(finding)),
            failing=finding.fingerprint in failing,
        )

    active = ordered([f for f in result.findings if f.active])
    suppressed = ordered([f for f in result.findings if not f.active])
    groups = [(kind, kind_title(kind), [row(f) for f in items]) for kind, items in by_kind(active)]
    layer_counts = {
        layer.index: sum(1 for f in active if f.location and f.location.layer and f.location.layer.index == layer.index)
        for layer in result.layers
    }
    introduced = {
        layer.index: sum(1 for p in result.packages if p.introduced_by and p.introduced_by.index == layer.index)
        for layer in result.layers
    }
    template = _environment().get_template("report.html.j2")
    return template.render(
        result=result,
        verdict=verdict,
        summary=summary,
        summary_line=summary_line(result, verdict),
        bars=_bars(summary.by_severity),
        groups=groups,
        suppressed=[row(f) for f in suppressed],
        layer_counts=layer_counts,
        introduced=introduced,
        kinds=[(k.value, kind_title(k)) for k in FindingKind],
        severities=[s.value for s in SEVERITIES_DESC],
        colours={s.value: c for s, c in SEVERITY_COLOURS.items()},
    )


def _bars(counts: tuple[tuple[Severity, int], ...]) -> list[_Bar]:
    """Horizontal bars, one per severity, scaled to the largest count."""
    top = max((n for _, n in counts), default=0) or 1
    return [
        _Bar(
            severity=str(severity),
            count=n,
            colour=SEVERITY_COLOURS[severity],
            x=90,
            width=max(2, round(260 * n / top)) if n else 0,
            y=8 + i * 26,
        )
        for i, (severity, n) in enumerate(counts)
    ]
