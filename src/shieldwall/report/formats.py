"""Output formats: one enum, one dispatcher; mypy reports a format without a branch."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from shieldwall.errors import InputError
from shieldwall.model import ScanResult


class OutputFormat(StrEnum):
    """Formats ``--format`` and ``--output FORMAT=PATH`` accept."""

    TABLE = "table"
    JSON = "json"
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"


def render(fmt: OutputFormat, result: ScanResult) -> str:
    """Render ``result`` in ``fmt``."""
    match fmt:
        case OutputFormat.TABLE:
            from shieldwall.report.table import render_table

            return render_table(result)
        case OutputFormat.JSON:
            from shieldwall.report.json_report import render_json

            return render_json(result)
        case OutputFormat.CYCLONEDX:
            from shieldwall.report.cyclonedx import render_cyclonedx

            return render_cyclonedx(result)
        case OutputFormat.SPDX:
            from shieldwall.report.spdx import render_spdx

            return render_spdx(result)
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
