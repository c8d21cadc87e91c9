"""SVG charts drawn on the server: no chart library, nothing from a CDN, and they print.

Each function returns plain geometry (frozen values) that a template turns
into ``<rect>`` and ``<text>`` elements; all text stays autoescaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shieldwall.api.queries import SEVERITY_ORDER, TrendPoint
from shieldwall.report.html import SEVERITY_COLOURS

COLOURS = {str(s): c for s, c in SEVERITY_COLOURS.items()}
KIND_COLOUR = "#455a64"


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar with its label and value."""

    label: str
    value: int
    x: int
    y: int
    width: int
    colour: str


@dataclass(frozen=True, slots=True)
class BarChart:
    """A horizontal bar chart."""

    width: int
    height: int
    bars: tuple[Bar, ...]


def bar_chart(
    values: Mapping[str, int], colours: Mapping[str, str] | None = None, *, width: int = 360, label_width: int = 110
) -> BarChart:
    """Horizontal bars scaled to the largest value."""
    top = max(values.values(), default=0) or 1
    span = width - label_width - 40
    bars = tuple(
        Bar(
            label=label,
            value=value,
            x=label_width,
            y=6 + i * 24,
            width=max(2, round(span * value / top)) if value else 0,
            colour=(colours or {}).get(label, KIND_COLOUR),
        )
        for i, (label, value) in enumerate(values.items())
    )
    return BarChart(width, 12 + len(bars) * 24, bars)


@dataclass(frozen=True, slots=True)
class Segment:
    """One severity's part of a day's column."""

    severity: str
    value: int
    y: float
    height: float
    colour: str


@dataclass(frozen=True, slots=True)
class Column:
    """One day of the trend: its stacked segments and its total."""

    day: str
    x: float
    width: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class TrendChart:
    """Open findings per day, stacked by severity."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    maximum: int
    columns: tuple[Column, ...]
    ticks: tuple[tuple[str, float], ...]
    legend: tuple[tuple[str, str], ...]


def trend_chart(points: Sequence[TrendPoint], *, width: int = 720, height: int = 200) -> TrendChart:
    """Stacked columns, one per day, most severe at the bottom."""
    top, bottom, left = 10, height - 28, 36
    maximum = max((p.total for p in points), default=0) or 1
    slot = (width - left - 8) / max(1, len(points))
    columns = []
    for i, point in enumerate(points):
        y = float(bottom)
        segments = []
        for severity in SEVERITY_ORDER:
            value = point.counts.get(severity, 0)
            if not value:
                continue
            h = (bottom - top) * value / maximum
            y -= h
            segments.append(Segment(severity, value, round(y, 2), round(h, 2), COLOURS.get(severity, KIND_COLOUR)))
        columns.append(
            Column(point.day, round(left + i * slot + 1, 2), round(max(1.0, slot - 2), 2), point.total, tuple(segments))
        )
    step = max(1, len(points) // 6)
    ticks = tuple((points[i].day[5:], round(left + i * slot + slot / 2, 2)) for i in range(0, len(points), step))
    legend = tuple((s, COLOURS[s]) for s in SEVERITY_ORDER if s in COLOURS)
    return TrendChart(width, height, top, bottom, maximum, tuple(columns), ticks, legend)
