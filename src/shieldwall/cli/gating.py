"""The CLI side of configuration and the gate: flags -> settings -> gate options -> exit code.

``shieldwall scan`` calls ``load_scan_settings`` before it scans (bad
configuration, policy, exceptions, VEX or baseline fail fast with exit 2),
``scan_options_from`` to apply the settings to the scan, and ``finish_gate``
after it, which prints what the gate decided and returns the exit code
(1 on a policy failure). ``config show`` and ``scan-files`` live here too.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shieldwall.cli.common import guarded
from shieldwall.errors import InputError

if TYPE_CHECKING:  # `shieldwall scan --help` imports this module for its options: the rest comes when used
    from rich.console import Console

    from shieldwall.config.load import Settings
    from shieldwall.model import ScanResult
    from shieldwall.policy.model import GateVerdict
    from shieldwall.scanopts import ScanOptions
    from shieldwall.service.gate import GateOptions, GateOutcome

EXIT_POLICY = 1
MAX_STAGED_FILES = 10_000

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Configuration file (default: shieldwall.yaml here or at the git root)."),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option("--fail-on", help="Exit 1 on any active finding at or above: low, medium, high, critical."),
]
PolicyOpt = Annotated[str | None, typer.Option("--policy", help="Policy YAML file (fail conditions).")]
ExceptionsOpt = Annotated[
    str | None, typer.Option("--exceptions", help="Exceptions file (default: .shieldwallignore.yaml).")
]
VexOpt = Annotated[list[str] | None, typer.Option("--vex", help="OpenVEX or CycloneDX VEX document; repeatable.")]
BaselineOpt = Annotated[
    str | None, typer.Option("--baseline", help="Previous JSON report: fail only on findings new against it.")
]


def load_scan_settings(config: Path | None, flags: dict[str, Any]) -> tuple[Settings, GateOptions]:
    """Effective settings (flags > env > file > defaults) and the gate's loaded inputs."""
    from shieldwall.config.load import load_settings
    from shieldwall.service.gate import gate_options

    given = {k: v for k, v in flags.items() if v not in (None, "", [], ())}
    settings = load_settings(given, config_file=config)
    return settings, gate_options(settings)


def scan_options_from(options: ScanOptions, settings: Settings, gate: GateOptions) -> ScanOptions:
    """Apply configured scanners, directories and the licence deny list to the scan options."""
    from shieldwall.config.sections import LicenseSection

    config = settings.config
    deny = settings.section("license", LicenseSection).deny + gate.license_patterns()
    changes: dict[str, Any] = {
        "scanners": frozenset(config.scanners),
        "license_deny": tuple(dict.fromkeys(deny)),
    }
    if config.cache_dir:
        changes["cache_dir"] = Path(config.cache_dir)
    if config.data_dir:
        changes["data_dir"] = Path(config.data_dir)
    return dataclasses.replace(options, **changes)


def finish_gate(result: ScanResult, gate: GateOptions) -> GateOutcome:
    """Apply exceptions and VEX, then the policies."""
    from shieldwall.service.gate import apply_gate

    return apply_gate(result, gate)


def report_gate(outcome: GateOutcome, console: Console, *, quiet: bool, summary: bool = True) -> int:
    """Print warnings about exceptions and VEX, the verdict and the summary line; return the exit code.

    ``summary=False``: the summary line is already on stdout, do not repeat it.
    """
    from rich.text import Text

    from shieldwall.model.text import printable
    from shieldwall.report.common import summary_line
    from shieldwall.report.safe_text import untrusted

    for warning in outcome.warnings:
        where = f" ({warning.path})" if warning.path else ""
        console.print(
            Text.assemble(("warning:", "yellow"), " ", untrusted(f"{warning.message}{where}")),
            highlight=False,
            soft_wrap=True,
        )
    verdict = outcome.verdict
    if not verdict.passed:
        for failure in verdict.failures[:20]:
            console.print(
                Text.assemble(
                    (f"policy {printable(failure.policy)}:", "red"),
                    " ",
                    untrusted(f"{failure.severity} {failure.rule_id} — {failure.title} "),
                    (f"({printable(failure.reason)})", "dim"),
                ),
                highlight=False,
                soft_wrap=True,
            )
        if len(verdict.failures) > 20:
            console.print(f"... and {len(verdict.failures) - 20} more violation(s)", highlight=False)
    if summary and (not quiet or not verdict.passed):
        console.print(untrusted(summary_line(outcome.result, verdict)), highlight=False, soft_wrap=True)
    return gate_exit_code(verdict)


def gate_exit_code(verdict: GateVerdict) -> int:
    """0 when the gate passed (or none is configured), 1 on a policy failure."""
    return 0 if verdict.passed else EXIT_POLICY


config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: key, value, origin.")] = False,
) -> None:
    """Print the effective configuration and where each value came from (file:line, env, flag, default)."""
    from shieldwall.config.load import config_rows_text, load_settings

    settings = guarded(lambda: load_settings(config_file=config), False)
    if as_json:
        rows = [{"key": k, "value": v, "origin": o} for k, v, o in settings.rows()]
        typer.echo(json.dumps({"file": str(settings.file) if settings.file else None, "settings": rows}, indent=2))
    else:
        typer.echo(config_rows_text(settings), nl=False)


def copy_files(files: Sequence[str]) -> tempfile.TemporaryDirectory[str]:
    """Copy ``files`` (relative paths, as pre-commit passes them) into a temporary tree of the same shape."""
    if len(files) > MAX_STAGED_FILES:
        raise InputError(f"{len(files)} files: at most {MAX_STAGED_FILES} per run")
    for name in files:
        source = Path(name)
        if source.is_absolute() or ".." in source.parts:
            raise InputError(f"{name}: give paths relative to the repository, inside it")
    tmp = tempfile.TemporaryDirectory(prefix="shieldwall-files-")
    root = Path(tmp.name)
    for name in files:
        source = Path(name)
        if source.is_symlink() or not source.is_file():
            continue
        target = root / source
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return tmp
