"""Flags of ``shieldwall scan`` that users bring from trivy and grype, and what ``scan`` prints where.

``--skip-dirs``/``--skip-files`` (globs), ``--exit-code`` (the code of a
failed gate), ``--timeout`` (a scan past it stops with exit 2, nothing
reported), ``--ignorefile`` (``.trivyignore``, found by default beside
``.shieldwallignore.yaml``) and ``--list-packages`` (the inventory in the
table). The helpers at the end decide stdout and stderr: ``--quiet`` prints
nothing but errors (a failed gate's violations, which make the exit code);
``--output`` files without a stdout format print only the one-line summary;
otherwise the asked format (the findings table by default).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shieldwall.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from shieldwall.model import ScanResult
    from shieldwall.policy.model import GateVerdict
    from shieldwall.policy.skippaths import SkipRules
    from shieldwall.report.formats import OutputFormat
    from shieldwall.service.gate import GateOptions, GateOutcome

T = TypeVar("T")

SkipDirsOpt = Annotated[
    list[str] | None,
    typer.Option("--skip-dirs", help="Directories to leave out, globs (** crosses /), comma-separated or repeated."),
]
SkipFilesOpt = Annotated[
    list[str] | None,
    typer.Option("--skip-files", help="Files to leave out, globs (**/*.min.js), comma-separated or repeated."),
]
ExitCodeOpt = Annotated[
    int,
    typer.Option("--exit-code", min=0, max=255, help="Exit code when the gate fails (default 1; 0 reports only)."),
]
TimeoutOpt = Annotated[
    str,
    typer.Option(
        "--timeout", help="Stop a scan that takes longer (90s, 5m, 1h30m): exit 2, nothing reported (default: none)."
    ),
]
IgnoreFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ignorefile",
        help="A .trivyignore file (IDs, `exp:YYYY-MM-DD`); default: .trivyignore here or at the git root.",
    ),
]
ListPackagesOpt = Annotated[
    bool, typer.Option("--list-packages", help="Also list every package and layer in the table (the inventory).")
]


def skip_rules(dirs: list[str] | None, files: list[str] | None) -> SkipRules:
    """Compile ``--skip-dirs``/``--skip-files`` before the scan (a bad pattern fails fast)."""
    from shieldwall.policy.skippaths import SkipRules, split_patterns

    return SkipRules.compile(split_patterns(dirs), split_patterns(files))


def apply_skips(result: ScanResult, rules: SkipRules) -> ScanResult:
    """Leave out what lies in skipped paths."""
    from shieldwall.policy.skippaths import skip_paths

    return skip_paths(result, rules)


def timeout_seconds(text: str) -> float | None:
    """Parse ``--timeout`` (``None`` when not given)."""
    if not text:
        return None
    from shieldwall.service.deadline import parse_duration

    return parse_duration(text)


def within_timeout(action: Callable[[], T], seconds: float | None, text: str) -> T:
    """Run the scan under the deadline; past it, an ``InputError`` (exit 2) and no result at all."""
    from shieldwall.service.deadline import ScanTimeout, deadline

    message = f"scan timed out after {text}: stopped, nothing reported (raise --timeout or narrow the target)"
    try:
        with deadline(seconds) as state:
            value = action()
    except ScanTimeout:
        raise InputError(message) from None
    if state.expired:  # the timer fired where something swallowed it: still no result
        raise InputError(message)
    return value


def with_ignorefile(gate: GateOptions, path: Path | None) -> GateOptions:
    """Add the entries of ``.trivyignore`` (given, or found) to the gate's exceptions."""
    from shieldwall.policy.ignorefile import find_trivyignore, load_trivyignore

    if path is not None and not path.is_file():
        raise InputError(f"--ignorefile {path}: no such file")
    found = path or find_trivyignore()
    if found is None:
        return gate
    return dataclasses.replace(gate, exceptions=gate.exceptions + load_trivyignore(found))


def gate_code(code: int, exit_code: int) -> int:
    """``--exit-code``: the code of a failed gate (1 by default); other codes unchanged."""
    return exit_code if code == 1 else code


def _table_width() -> int | None:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 40 else None


def print_stdout(
    result: ScanResult,
    verdict: GateVerdict,
    fmt: OutputFormat,
    *,
    list_packages: bool,
    write: Callable[[str, str], None],
) -> None:
    """The report on stdout: the table on a terminal (its width; COLUMNS when piped), else ``fmt`` rendered."""
    from shieldwall.report.formats import OutputFormat, render

    if fmt is OutputFormat.TABLE:
        from rich.console import Console

        from shieldwall.report.table import print_table, render_table

        if sys.stdout.isatty():
            print_table(result, Console(), verdict, list_packages=list_packages)
        else:
            text = render_table(result, width=_table_width() or 160, verdict=verdict, list_packages=list_packages)
            write(text, "-")
        return
    write(render(fmt, result, verdict), "-")


def render_file(result: ScanResult, verdict: GateVerdict, fmt: OutputFormat, *, list_packages: bool) -> str:
    """A report for ``--output FORMAT=PATH`` (the table with the inventory when ``--list-packages``)."""
    from shieldwall.report.formats import OutputFormat, render

    if fmt is OutputFormat.TABLE and list_packages:
        from shieldwall.report.table import render_table

        return render_table(result, verdict=verdict, list_packages=True)
    return render(fmt, result, verdict)


def file_renderer(
    result: ScanResult, verdict: GateVerdict, fmt: OutputFormat, *, list_packages: bool
) -> Callable[[], str]:
    """``render_file`` bound to its arguments (run under the CLI's error guard)."""
    return lambda: render_file(result, verdict, fmt, list_packages=list_packages)


def report_gate(outcome: GateOutcome, console: Console, *, quiet: bool, summary_shown: bool) -> int:
    """The gate's messages on stderr, without repeating a summary already shown.

    ``--quiet`` prints errors only: nothing when the gate passes; when it fails, why (the violations
    that make the exit code, and the exception or VEX warnings that changed the verdict), no summary.
    """
    from shieldwall.cli import gating

    if quiet and outcome.verdict.passed:
        return gating.gate_exit_code(outcome.verdict)
    return gating.report_gate(outcome, console, quiet=quiet or summary_shown, summary=not (quiet or summary_shown))
