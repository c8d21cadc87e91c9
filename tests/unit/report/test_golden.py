"""Every output format, rendered from one deterministic ScanResult, against its golden file."""

from __future__ import annotations

import pytest

from helpers.golden import check_golden
from helpers.sample_result import sample_result, sample_verdict
from shieldwall.report.formats import OutputFormat, render

EXTENSIONS = {
    OutputFormat.TABLE: "txt",
    OutputFormat.JSON: "json",
    OutputFormat.CYCLONEDX: "cdx.json",
    OutputFormat.SPDX: "spdx.json",
    OutputFormat.SARIF: "sarif",
    OutputFormat.JUNIT: "junit.xml",
    OutputFormat.MARKDOWN: "md",
    OutputFormat.HTML: "html",
}


def test_every_format_has_a_golden_file() -> None:
    assert set(EXTENSIONS) == set(OutputFormat)


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=str)
def test_golden(fmt: OutputFormat) -> None:
    result = sample_result()
    check_golden(f"sample.{EXTENSIONS[fmt]}", render(fmt, result, sample_verdict(result)))
