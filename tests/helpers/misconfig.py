"""Shared helpers for the misconfig tests: parse a fixture and run one check on it."""

from __future__ import annotations

from pathlib import Path

from shieldwall.misconfig.check import Check, ParsedFile
from shieldwall.misconfig.engine import run_checks, run_set_checks
from shieldwall.misconfig.inputs import fixture_parsers
from shieldwall.model import Finding

FIXTURES = Path(__file__).parents[1] / "fixtures" / "misconfig"


def parse(input_kind: str, path: Path | str, content: bytes | None = None) -> ParsedFile | None:
    """Parse ``path`` (or ``content``) as ``input_kind`` regardless of its file name."""
    raw = Path(path).read_bytes() if content is None else content
    return fixture_parsers()[input_kind].parse(str(path), raw)


def findings_of(check: Check, path: Path, content: bytes | None = None) -> list[Finding]:
    """Findings of ``check`` alone on one file."""
    parsed = parse(check.input, path, content)
    if parsed is None:
        return []
    if check.scope == "set":
        return list(run_set_checks(check.input, [parsed], [check], str(path)).findings)
    output = run_checks(parsed, [check])
    assert not output.warnings, output.warnings
    return list(output.findings)
