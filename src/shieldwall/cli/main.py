"""``shieldwall``: a thin shell over the service layer.

Exit codes: 0 success, 1 policy failure, 2 usage or input error (bad target,
corrupt or hostile input), 3 internal error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from shieldwall import __version__
from shieldwall.cli import admission, api_cmds, compliance, gating, harbor, scan_flags, store_cmds
from shieldwall.cli import agent as agent_cli
from shieldwall.cli import fim as fim_cli
from shieldwall.cli import firewall as firewall_cli
from shieldwall.cli import ips as ips_cli
from shieldwall.cli import logs as logs_cli
from shieldwall.cli import secrets as secrets_cli
from shieldwall.cli import sweep as sweep_cli
from shieldwall.cli import worker as worker_cli
from shieldwall.cli.db import db_app
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.match.coverage import refuse_unevaluated
from shieldwall.match.filters import filter_vulnerabilities, parse_severities
from shieldwall.model import ScanResult
from shieldwall.report.common import summary_line
from shieldwall.report.formats import OutputFormat, parse_output_spec, render
from shieldwall.report.safe_text import print_error
from shieldwall.report.write import write_report
from shieldwall.service.progress import NullProgress, ScanProgress
from shieldwall.service.scan import ALL_SCANNERS, ScanOptions, scan_target
from shieldwall.vulndb.store import parse_age

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3

app = typer.Typer(
    name="shieldwall",
    help="Scan images, directories and SBOMs; gate pipelines; monitor and audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

PlatformOpt = Annotated[
    str, typer.Option("--platform", help="os/arch or os/arch/variant to pick from a multi-platform image.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display, no summary on stderr.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Ignore and do not fill the per-layer cache.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]


def _stderr() -> Console:
    return Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    print_error(_stderr(), message)
    return typer.Exit(code)


def _guarded(action: Callable[[], T], debug: bool) -> T:
    """Run ``action`` and map errors to the documented exit codes."""
    try:
        return action()
    except InputError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except ShieldwallError as exc:
        raise _fail(str(exc), EXIT_INTERNAL) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Exception as exc:
        if debug:
            traceback.print_exc()
        raise _fail(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", EXIT_INTERNAL
        ) from None


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[ScanProgress]:
    console = _stderr()
    if quiet or not console.is_terminal:
        yield NullProgress()
        return
    from shieldwall.cli.progress import RichScanProgress

    with RichScanProgress(console) as progress:
        yield progress


def _write(text: str, path: str) -> None:
    write_report(text, path)  # devices and FIFOs are written into, only regular files are replaced


ScannersOpt = Annotated[
    str,
    typer.Option("--scanners", help="Comma-separated scanner families: vuln,secret,malware,misconfig,license."),
]


def _scanners(text: str) -> frozenset[str]:
    """Parse ``--scanners``; an unknown family is a usage error."""
    if not text:
        return ALL_SCANNERS
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - ALL_SCANNERS
    if unknown:
        raise InputError(
            f"unknown scanner(s) {', '.join(sorted(unknown))} (choose from {', '.join(sorted(ALL_SCANNERS))})"
        )
    return chosen


def _options(platform: str, no_cache: bool, scanners: str = "") -> ScanOptions:
    return ScanOptions(platform=platform, use_cache=not no_cache, scanners=_scanners(scanners))


def _db_age_options(options: ScanOptions, max_db_age: str) -> ScanOptions:
    """``--max-db-age``: a stale vulnerability database fails the scan instead of warning."""
    if not max_db_age:
        return options
    return dataclasses.replace(options, max_db_age=parse_age(max_db_age), fail_on_stale_db=True)


def _run_scan(target: str, options: ScanOptions, quiet: bool) -> ScanResult:
    with _progress(quiet) as progress:
        return scan_target(target, options, progress)


@app.command()
def scan(
    target: Annotated[
        str,
        typer.Argument(
            help="dir:PATH, docker-archive:FILE, oci:PATH, registry:REF, sbom:FILE, or a plain path/reference."
        ),
    ],
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="FORMAT=PATH, repeatable (table, json, sarif, junit, markdown, html, cyclonedx, spdx);"
            " PATH '-' is stdout.",
        ),
    ] = None,
    format: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="Format printed on stdout when no --output names stdout (default table)."),
    ] = None,
    platform: PlatformOpt = "",
    scanners: ScannersOpt = "",
    severity: Annotated[
        str,
        typer.Option("--severity", help="Severities to show, every finding kind, e.g. HIGH,CRITICAL (default: all)."),
    ] = "",
    ignore_unfixed: Annotated[
        bool, typer.Option("--ignore-unfixed", help="Hide vulnerabilities that have no fixed version.")
    ] = False,
    max_db_age: Annotated[
        str,
        typer.Option(
            "--max-db-age",
            help="Fail when the vulnerability database is older than this (e.g. 7d, 36h); "
            "without it, a database older than 7 days is a warning.",
        ),
    ] = "",
    allow_incomplete_db: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete-db",
            help="Go on when the advisory database is missing, stale or has no data for an inventoried "
            "ecosystem; the packages concerned are reported as not evaluated (default: exit 2).",
        ),
    ] = False,
    config: gating.ConfigOpt = None,
    fail_on: gating.FailOnOpt = None,
    policy: gating.PolicyOpt = None,
    exceptions: gating.ExceptionsOpt = None,
    vex: gating.VexOpt = None,
    baseline: gating.BaselineOpt = None,
    secrets_baseline: secrets_cli.SecretsBaselineOpt = None,
    fail_on_secrets: secrets_cli.FailOnSecretsOpt = False,
    store: Annotated[
        bool, typer.Option("--store", help="Record the scan in the store (see shieldwall findings).")
    ] = False,
    skip_dirs: scan_flags.SkipDirsOpt = None,
    skip_files: scan_flags.SkipFilesOpt = None,
    exit_code: scan_flags.ExitCodeOpt = 1,
    timeout: scan_flags.TimeoutOpt = "",
    ignorefile: scan_flags.IgnoreFileOpt = None,
    list_packages: scan_flags.ListPackagesOpt = False,
    quiet: QuietOpt = False,
    no_cache: NoCacheOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Scan a target: its inventory, vulnerabilities, secrets, malware and misconfigurations; gate on a policy."""
    flags = {
        "outputs": output,
        "format": format.value if format else None,
        "scanners": scanners,
        "severity": severity,
        "fail_on": fail_on,
        "policy": policy,
        "exceptions": exceptions,
        "vex": vex,
        "baseline": baseline,
        "allow_incomplete_db": allow_incomplete_db or None,
    }
    settings, gate = _guarded(lambda: gating.load_scan_settings(config, flags), debug)
    gate = _guarded(lambda: scan_flags.with_ignorefile(gate, ignorefile), debug)
    skips = _guarded(lambda: scan_flags.skip_rules(skip_dirs, skip_files), debug)
    seconds = _guarded(lambda: scan_flags.timeout_seconds(timeout), debug)
    cfg = settings.config
    specs = _guarded(lambda: [parse_output_spec(s) for s in cfg.outputs], debug)
    severities = _guarded(lambda: parse_severities(",".join(cfg.severity)) if cfg.severity else None, debug)
    options = _guarded(lambda: _db_age_options(_options(platform, no_cache), max_db_age), debug)
    options = gating.scan_options_from(options, settings, gate)
    result = _guarded(
        lambda: scan_flags.within_timeout(lambda: _run_scan(target, options, quiet), seconds, timeout), debug
    )
    result = scan_flags.apply_skips(result, skips)
    _guarded(lambda: refuse_unevaluated(result, options.scanners, cfg.allow_incomplete_db), debug)
    result = filter_vulnerabilities(result, severities, ignore_unfixed)
    result = _guarded(lambda: secrets_cli.apply_scan_baseline(result, secrets_baseline, _stderr()), debug)
    outcome = _guarded(lambda: gating.finish_gate(result, gate), debug)
    result, verdict = outcome.result, outcome.verdict
    if store:
        _guarded(
            lambda: store_cmds.store_scan(result, verdict, options.scanners, bool(severities) or ignore_unfixed, quiet),
            debug,
        )
    stdout_format = OutputFormat(cfg.format)
    summary_shown = False
    # stdout: a format asked for (-f, or config `format`), else the findings table; with --output files and
    # no format asked for, only the one-line summary; with --quiet and no format asked for, nothing.
    asked = format is not None or stdout_format is not OutputFormat.TABLE
    if not any(path == "-" for _, path in specs) and not asked and (specs or quiet):
        summary_shown = True
        if not quiet:
            typer.echo(summary_line(result, verdict))
    elif not any(path == "-" for _, path in specs):
        summary_shown = stdout_format is OutputFormat.TABLE  # it ends with the summary line already
        _guarded(
            lambda: scan_flags.print_stdout(result, verdict, stdout_format, list_packages=list_packages, write=_write),
            debug,
        )
    for fmt, path in specs:
        _write(_guarded(scan_flags.file_renderer(result, verdict, fmt, list_packages=list_packages), debug), path)
    if not quiet and result.warnings:
        _stderr().print(f"[yellow]{len(result.warnings)} warning(s)[/]: see the report", highlight=False)
    code = scan_flags.report_gate(outcome, _stderr(), quiet=quiet, summary_shown=summary_shown)
    code = code or secrets_cli.secrets_gate(result, fail_on_secrets, _stderr(), quiet=quiet)
    code = scan_flags.gate_code(code, exit_code)
    if code:
        raise typer.Exit(code)


@app.command("scan-files")
def scan_files(
    files: Annotated[list[str], typer.Argument(help="Files to scan, relative to the repository (pre-commit).")],
    scanners: Annotated[str, typer.Option("--scanners", help="Scanner families (default: secret).")] = "secret",
    output: Annotated[list[str] | None, typer.Option("--output", "-o", help="FORMAT=PATH, repeatable.")] = None,
    config: gating.ConfigOpt = None,
    fail_on: gating.FailOnOpt = None,
    exceptions: gating.ExceptionsOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Scan only the given files (the pre-commit hook passes the staged ones); exit 1 on a policy failure."""
    with _guarded(lambda: gating.copy_files(files), debug) as root:
        scan(
            target=f"dir:{root}",
            output=output,
            format=None,
            platform="",
            scanners=scanners,
            severity="",
            ignore_unfixed=False,
            max_db_age="",
            allow_incomplete_db=False,
            config=config,
            fail_on=fail_on,
            policy=None,
            exceptions=exceptions,
            vex=None,
            baseline=None,
            quiet=quiet,
            no_cache=True,
            debug=debug,
            skip_dirs=None,
            skip_files=None,
            exit_code=1,
            timeout="",
            ignorefile=None,
            list_packages=False,
        )


@app.command()
def sbom(
    target: Annotated[str, typer.Argument(help="Any target kind `scan` accepts.")],
    format: Annotated[str, typer.Option("--format", "-f", help="cyclonedx or spdx.")] = "cyclonedx",
    output: Annotated[str, typer.Option("--output", "-o", help="File to write; '-' is stdout.")] = "-",
    platform: PlatformOpt = "",
    quiet: QuietOpt = False,
    no_cache: NoCacheOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a CycloneDX 1.6 or SPDX 2.3 JSON SBOM of a target."""
    if format not in ("cyclonedx", "spdx"):
        raise _fail(f"unknown SBOM format {format!r} (choose cyclonedx or spdx)", EXIT_INPUT)
    fmt = OutputFormat(format)
    # an SBOM is the inventory alone: no detectors, no post-scanners
    options = ScanOptions(platform=platform, use_cache=not no_cache, scanners=frozenset())
    result = _guarded(lambda: _run_scan(target, options, quiet), debug)
    _write(_guarded(lambda: render(fmt, result), debug), output)
    if not quiet and output != "-":
        _stderr().print(f"wrote {len(result.packages)} packages to {output}", highlight=False)


app.add_typer(gating.config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(ips_cli.ips_app, name="ips")
app.add_typer(secrets_cli.secrets_app, name="secrets")
app.add_typer(firewall_cli.firewall_app, name="firewall")
app.add_typer(store_cmds.assets_app, name="assets")
app.add_typer(store_cmds.audit_app, name="audit")
app.add_typer(agent_cli.agent_app, name="agent")
app.command("compliance")(compliance.compliance)
app.command("findings")(store_cmds.findings)
app.command("rematch")(store_cmds.rematch_cmd)
app.add_typer(sweep_cli.monitor_app, name="monitor")
app.add_typer(worker_cli.worker_app, name="worker")
app.command("serve")(api_cmds.serve)
app.add_typer(api_cmds.token_app, name="token")
app.add_typer(fim_cli.fim_app, name="fim")
app.add_typer(logs_cli.logs_app, name="logs")
app.add_typer(admission.admission_app, name="admission")
app.add_typer(harbor.harbor_app, name="harbor")


@app.command()
def version() -> None:
    """Print the Shieldwall version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # pragma: no cover - last resort
        print_error(_stderr(), str(exc), label="internal error:")
        sys.exit(EXIT_INTERNAL)
