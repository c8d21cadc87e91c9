"""``shieldwall``: a thin shell over the service layer.

Exit codes: 0 success, 1 policy failure, 2 usage or input error (bad target,
corrupt or hostile input), 3 internal error.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from shieldwall import __version__
from shieldwall.cli import gating, scan_flags
from shieldwall.cli import secrets as secrets_cli
from shieldwall.cli.common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_POLICY,
    DebugOpt,
    NoCacheOpt,
    PlatformOpt,
    QuietOpt,
)
from shieldwall.cli.common import fail as _fail
from shieldwall.cli.common import guarded as _guarded
from shieldwall.cli.common import scan_options as _options
from shieldwall.cli.common import scan_progress as _progress
from shieldwall.cli.common import stderr_console as _stderr
from shieldwall.cli.common import write_output as _write
from shieldwall.cli.lazy import LazyCommands, lazy_function, lazy_module
from shieldwall.report.formats import OutputFormat, parse_output_spec, render
from shieldwall.scanopts import ScanOptions

# heavy parts are imported when a command first uses them (``shieldwall --help`` imports none of them)
if TYPE_CHECKING:
    from rich.console import Console

    from shieldwall.cli import store_cmds
    from shieldwall.match.coverage import refuse_unevaluated
    from shieldwall.match.filters import filter_vulnerabilities, parse_severities
    from shieldwall.model import ScanResult
    from shieldwall.report.common import summary_line
    from shieldwall.service.scan import scan_target
else:
    Console = lazy_function("rich.console", "Console")
    store_cmds = lazy_module("shieldwall.cli.store_cmds")
    refuse_unevaluated = lazy_function("shieldwall.match.coverage", "refuse_unevaluated")
    filter_vulnerabilities = lazy_function("shieldwall.match.filters", "filter_vulnerabilities")
    parse_severities = lazy_function("shieldwall.match.filters", "parse_severities")
    summary_line = lazy_function("shieldwall.report.common", "summary_line")
    scan_target = lazy_function("shieldwall.service.scan", "scan_target")

__all__ = ["EXIT_INPUT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_POLICY", "app", "main", "subcommands"]

subcommands = LazyCommands()  # subcommands whose modules are imported only when they run (see cli/lazy.py)

app = typer.Typer(
    name="shieldwall",
    help="Scan images, directories and SBOMs; gate pipelines; monitor and audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=subcommands.group_class,
    rich_markup_mode=None,  # plain help: typer's rich help renderer alone costs ~0.1 s (benchmarks/perf/STARTUP.md)
)

ParallelOpt = Annotated[
    int | None,
    typer.Option("--parallel", min=1, help="Layers analysed at once in processes (default: CPU count; 1: serial)."),
]


def _parallel(value: int | None) -> int:
    """``--parallel``: the CPUs this process may use when not given."""
    if value:
        return value
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


ScannersOpt = Annotated[
    str,
    typer.Option("--scanners", help="Comma-separated scanner families: vuln,secret,malware,misconfig,license."),
]


def _db_age_options(options: ScanOptions, max_db_age: str) -> ScanOptions:
    """``--max-db-age``: a stale vulnerability database fails the scan instead of warning."""
    from shieldwall.vulndb.store import parse_age

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
    parallel: ParallelOpt = None,
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
    options = dataclasses.replace(gating.scan_options_from(options, settings, gate), parallel=_parallel(parallel))
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
    parallel: ParallelOpt = None,
) -> None:
    """Write a CycloneDX 1.6 or SPDX 2.3 JSON SBOM of a target."""
    if format not in ("cyclonedx", "spdx"):
        raise _fail(f"unknown SBOM format {format!r} (choose cyclonedx or spdx)", EXIT_INPUT)
    fmt = OutputFormat(format)
    # an SBOM is the inventory alone: no detectors, no post-scanners
    options = ScanOptions(platform=platform, use_cache=not no_cache, scanners=frozenset(), parallel=_parallel(parallel))
    result = _guarded(lambda: _run_scan(target, options, quiet), debug)
    _write(_guarded(lambda: render(fmt, result), debug), output)
    if not quiet and output != "-":
        _stderr().print(f"wrote {len(result.packages)} packages to {output}", highlight=False)


subcommands.command(
    "compliance",
    "shieldwall.cli.compliance:compliance",
    "Scan TARGET and report, per control of FRAMEWORK, pass / fail / not applicable with the findings.",
)
subcommands.command(
    "findings",
    "shieldwall.cli.store_cmds:findings",
    "List stored findings with their lifecycle (first/last seen, fixed, reopened, suppressed).",
)
subcommands.command(
    "rematch",
    "shieldwall.cli.store_cmds:rematch_cmd",
    "Re-match stored inventories against the advisory database's last change (no pull, no layer walk).",
)
subcommands.command(
    "serve",
    "shieldwall.cli.api_cmds:serve",
    "Run the REST API (/api/v1), /metrics and the dashboard on uvicorn until Ctrl-C or SIGTERM.",
)
subcommands.command("version", "shieldwall.cli.main:version", "Print the Shieldwall version.")
subcommands.add_typer("config", "shieldwall.cli.gating:config_app", "Inspect the effective configuration.")
subcommands.add_typer(
    "db", "shieldwall.cli.db:db_app", "Manage the local vulnerability database (update, import, export, status)."
)
subcommands.add_typer(
    "ips", "shieldwall.cli.ips:ips_app", "Intrusion prevention: policy validation, virtual patches, recommendations."
)
subcommands.add_typer(
    "secrets", "shieldwall.cli.secrets:secrets_app", "Secret scanner tools: baselines of known secrets."
)
subcommands.add_typer("firewall", "shieldwall.cli.firewall:firewall_app", "Explain and compile host firewall policies.")
subcommands.add_typer(
    "assets", "shieldwall.cli.store_cmds:assets_app", "Stored assets: images by digest with their tags, hosts, sources."
)
subcommands.add_typer("audit", "shieldwall.cli.store_cmds:audit_app", "The tamper-evident audit trail.")
subcommands.add_typer(
    "agent",
    "shieldwall.cli.agent:agent_app",
    "The Shieldwall agent: enroll with a manager, run modules, spool and upload events.",
)
subcommands.add_typer(
    "monitor",
    "shieldwall.cli.sweep:monitor_app",
    "Watch registries, rematch on new advisories, send alerts; sweep a registry.",
)
subcommands.add_typer(
    "worker",
    "shieldwall.cli.worker:worker_app",
    "Run distributed tasks (needs SHIELDWALL_BROKER_URL); list dead letters.",
)
subcommands.add_typer(
    "token", "shieldwall.cli.api_cmds:token_app", "API tokens for `shieldwall serve` (stored hashed; shown once)."
)
subcommands.add_typer("fim", "shieldwall.cli.fim:fim_app", "File integrity monitoring: change windows for deploys.")
subcommands.add_typer("logs", "shieldwall.cli.logs:logs_app", "Log inspection rules: test them on log lines.")
subcommands.add_typer(
    "admission",
    "shieldwall.cli.admission:admission_app",
    "Kubernetes admission control from the store's scan results.",
)
subcommands.add_typer("harbor", "shieldwall.cli.harbor:harbor_app", "Harbor pluggable scanner adapter (spec v1.0-1.2).")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


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
        from shieldwall.report.safe_text import print_error

        print_error(_stderr(), str(exc), label="internal error:")
        sys.exit(EXIT_INTERNAL)
