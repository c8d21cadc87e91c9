"""Store commands: ``findings``, ``assets``, ``audit``, ``rematch``, ``monitor``, and ``scan --store``.

The store is ``SHIELDWALL_DATABASE_URL`` (PostgreSQL) or the SQLite file in
the data directory. Heavy imports (SQLAlchemy, the matcher) happen inside the
commands so that ``shieldwall --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from shieldwall.report.safe_text import SafeTable

if TYPE_CHECKING:
    from shieldwall.model import ScanResult
    from shieldwall.store import Store

T = TypeVar("T")

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who is acting (default: user@host or SHIELDWALL_ACTOR).")]


def _guarded(action: Callable[[], T], debug: bool) -> T:
    from shieldwall.cli.common import guarded

    return guarded(action, debug)


def _open_store() -> Store:
    from shieldwall.store import Store

    return Store.open()


def _check_format(fmt: str) -> str:
    from shieldwall.errors import InputError

    if fmt not in ("table", "json"):
        raise InputError(f"unknown format {fmt!r} (choose table or json)")
    return fmt


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console

    table = SafeTable(title=title, show_lines=False, highlight=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


# -- scan --store -----------------------------------------------------------------------------------


def store_scan(result: ScanResult, verdict: Any, scanners: frozenset[str], filtered: bool, quiet: bool) -> None:
    """Record a CLI scan; ``filtered`` (severity filter, --ignore-unfixed) keeps vulnerabilities out of the sweep."""
    from rich.console import Console

    from shieldwall.store.records import record_scan

    chosen = frozenset(s for s in scanners if not (filtered and s == "vuln"))
    verdict_text = "" if verdict is None else ("pass" if getattr(verdict, "passed", False) else "fail")
    with _open_store() as store:
        record = record_scan(store, result, trigger="cli", scanners=chosen, verdict=verdict_text)
    if not quiet:
        counts = record.counts
        Console(stderr=True).print(
            f"stored scan {record.scan_id} of {record.asset_identifier}: {counts['new']} new, "
            f"{counts['gone']} fixed, {counts['reopened']} reopened finding(s)",
            highlight=False,
        )


# -- findings ---------------------------------------------------------------------------------------


def findings(
    severity: Annotated[
        list[str] | None, typer.Option("--severity", "-s", help="Severities (repeatable, comma lists, HIGH+).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="vulnerability, secret, misconfig, drift... (repeatable).")
    ] = None,
    asset: Annotated[str, typer.Option("--asset", "-a", help="Asset ID, digest or repository:tag.")] = "",
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="open, reopened, fixed, not-applicable, suppressed, or active (repeatable)."),
    ] = None,
    environment: Annotated[str, typer.Option("--environment", "-e", help="Only assets of this environment.")] = "",
    rule: Annotated[str, typer.Option("--rule", help="Only this rule or vulnerability ID.")] = "",
    limit: Annotated[int, typer.Option("--limit", help="At most this many (0: all).")] = 0,
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """List stored findings with their lifecycle (first/last seen, fixed, reopened, suppressed)."""
    from shieldwall.model import FindingKind
    from shieldwall.store.queries import list_findings, parse_severities, parse_statuses

    def run() -> list[Any]:
        _check_format(format)
        kinds = []
        for value in kind or []:
            for part in value.split(","):
                if part.strip():
                    kinds.append(str(FindingKind(part.strip().lower())))
        with _open_store() as store:
            return list_findings(
                store,
                severities=parse_severities(severity or []),
                kinds=kinds,
                asset=asset,
                statuses=parse_statuses(status or []),
                environment=environment,
                rule=rule,
                limit=limit,
            )

    try:
        views = _guarded(run, debug)
    except ValueError as exc:  # an unknown --kind
        raise typer.BadParameter(str(exc)) from None
    if format == "json":
        _print_json([v.to_dict() for v in views])
        return
    rows = [
        [
            str(v.id),
            v.severity,
            v.kind,
            v.rule_id,
            (f"{v.package} {v.installed_version}".strip() or v.path)[:60],
            v.fixed_version,
            v.status + (f" ({v.suppressed_reason})" if v.suppressed_reason else ""),
            (v.asset[:19] + "…") if len(v.asset) > 20 else v.asset,
            v.first_seen,
            v.last_seen,
        ]
        for v in views
    ]
    _table(
        f"{len(views)} finding(s)",
        ["id", "severity", "kind", "rule", "package / path", "fixed in", "status", "asset", "first seen", "last seen"],
        rows,
    )


# -- assets -----------------------------------------------------------------------------------------

assets_app = typer.Typer(help="Stored assets: images by digest with their tags, hosts, sources.", no_args_is_help=False)


@assets_app.callback(invoke_without_command=True)
def assets(
    ctx: typer.Context,
    environment: Annotated[str, typer.Option("--environment", "-e", help="Only this environment.")] = "",
    kind: Annotated[str, typer.Option("--kind", "-k", help="image, host, source or sbom.")] = "",
    golden: Annotated[
        bool | None, typer.Option("--golden/--not-golden", help="Only golden (or only non-golden) images.")
    ] = None,
    repository: Annotated[str, typer.Option("--repository", help="Only this repository (registry/name).")] = "",
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """List stored assets (the subcommands change one)."""
    if ctx.invoked_subcommand is not None:
        return
    from shieldwall.store.queries import list_assets

    def run() -> list[Any]:
        _check_format(format)
        with _open_store() as store:
            return list_assets(store, environment=environment, kind=kind, golden=golden, repository=repository)

    views = _guarded(run, debug)
    if format == "json":
        _print_json([v.to_dict() for v in views])
        return
    rows = [
        [
            str(v.id),
            v.kind,
            v.identifier if len(v.identifier) <= 30 else v.identifier[:29] + "…",
            "\n".join(v.tags) or v.name,
            v.environment,
            ("yes: " + v.golden_reason) if v.golden else "",
            "yes" if v.active else "no",
            str(v.packages),
            str(v.open_findings),
            v.last_seen,
        ]
        for v in views
    ]
    _table(
        f"{len(views)} asset(s)",
        ["id", "kind", "identifier", "tags", "environment", "golden", "active", "packages", "open", "last seen"],
        rows,
    )


@assets_app.command("golden")
def assets_golden(
    asset: Annotated[str, typer.Argument(help="Asset ID, digest or repository:tag.")],
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Mark as golden, or not golden (overrides labels and patterns).")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Clear the flag: labels and tag patterns decide.")] = False,
    actor: ActorOpt = "",
    debug: DebugOpt = False,
) -> None:
    """Mark an image as golden (always rematched, alerted) or not; audited."""
    from shieldwall.errors import InputError
    from shieldwall.store.queries import set_golden

    def run() -> Any:
        if on is None and not reset:
            raise InputError("say --on, --off or --reset")
        with _open_store() as store:
            return set_golden(store, asset, None if reset else on, actor=actor)

    view = _guarded(run, debug)
    typer.echo(f"asset {view.id} ({view.identifier}): golden={'yes' if view.golden else 'no'}")


@assets_app.command("environment")
def assets_environment(
    asset: Annotated[str, typer.Argument(help="Asset ID, digest or repository:tag.")],
    name: Annotated[str, typer.Argument(help="Environment name ('' removes it).")],
    actor: ActorOpt = "",
    debug: DebugOpt = False,
) -> None:
    """Put an asset into an environment; audited."""
    from shieldwall.store.queries import set_environment

    def run() -> None:
        with _open_store() as store:
            set_environment(store, asset, name, actor=actor)

    _guarded(run, debug)
    typer.echo(f"asset {asset}: environment {name or '(none)'}")


# -- audit ------------------------------------------------------------------------------------------

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            help="Ed25519 public key (PEM) to check checkpoints with; repeatable (keys rotated out keep verifying).",
        ),
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option(
            "--witness",
            help="Witness file (JSON lines) or http(s) URL serving it: the trail must not end before, nor differ "
            "from, any checkpoint it saw (default: the store's own witness file when it exists).",
        ),
    ] = None,
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """Check every link of the hash chain and every signed checkpoint; exit 1 at the first broken link."""
    from shieldwall.store.audit import load_public_key, verify
    from shieldwall.store.witness import load_witness

    def run() -> Any:
        _check_format(format)
        key = [load_public_key(p) for p in public_key] if public_key else None
        seen = load_witness(witness) if witness else None
        with _open_store() as store:
            return verify(store, key, seen)

    report = _guarded(run, debug)
    doc = {
        "ok": report.ok,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "last_signed_seq": report.last_signed_seq,
        "unsigned_events": report.unsigned_events,
        "broken": None if report.broken is None else {"seq": report.broken.seq, "problem": report.broken.problem},
        "notes": report.notes,
    }
    if format == "json":
        _print_json(doc)
    elif report.ok:
        typer.echo(
            f"audit trail intact: {report.events} events, {report.checkpoints} signed checkpoint(s), "
            f"head {report.head_seq} {report.head_hash[:16]}…, {report.unsigned_events} event(s) after the last "
            "checkpoint"
        )
        for note in report.notes:
            typer.echo(f"note: {note}")
    else:
        typer.echo(f"audit trail BROKEN at {report.broken}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    since: Annotated[str, typer.Option("--since", help="ISO 8601 date or time (inclusive).")] = "",
    until: Annotated[str, typer.Option("--until", help="ISO 8601 date or time (exclusive).")] = "",
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    output: Annotated[str, typer.Option("--output", "-o", help="File to write; '-' is stdout.")] = "-",
    debug: DebugOpt = False,
) -> None:
    """Write the events of a time range as JSON Lines or CSV (with their hashes, for independent checks)."""
    from shieldwall.store.audit import export_text

    def run() -> int:
        count = 0
        with _open_store() as store:
            chunks = export_text(store, format, since, until)
            if output == "-":
                for chunk in chunks:
                    sys.stdout.write(chunk)
                    count += 1
                sys.stdout.flush()
            else:
                path = Path(output)
                tmp = path.with_name(path.name + ".tmp")
                with tmp.open("w", encoding="utf-8", newline="") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
                        count += 1
                tmp.replace(path)
        return count

    _guarded(run, debug)


@audit_app.command("checkpoint")
def audit_checkpoint(actor: ActorOpt = "", debug: DebugOpt = False) -> None:
    """Sign the current head of the trail now."""
    from shieldwall.store.audit import checkpoint

    def run() -> Any:
        with _open_store() as store:
            return checkpoint(store, actor=actor)

    made = _guarded(run, debug)
    typer.echo("empty trail: nothing to sign" if made is None else f"signed event {made.seq} with key {made.key_id}")


# -- rematch ----------------------------------------------------------------------------------------


def rematch_cmd(
    all_: Annotated[bool, typer.Option("--all", help="Rematch every stored inventory, not just the change.")] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Advisory database (default: the data directory's).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Monitor YAML whose alerts: section to queue alerts with.")
    ] = None,
    actor: ActorOpt = "",
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """Re-match stored inventories against the advisory database's last change (no pull, no layer walk)."""
    from shieldwall.service.rematch import rematch_from_vulndb
    from shieldwall.vulndb.store import default_db_path

    def run() -> Any:
        _check_format(format)
        alerts = None
        if config is not None:
            from shieldwall.service.monitor_config import load_config

            alerts = load_config(config)[0].alerts
        with _open_store() as store:
            return rematch_from_vulndb(store, db or default_db_path(), alerts=alerts, actor=actor, full=all_)

    report = _guarded(run, debug)
    assert report is not None
    doc = report.to_dict()
    if format == "json":
        _print_json(doc)
        return
    typer.echo(
        f"rematched {doc['inventories']} inventories ({doc['package_rows_read']} package rows, "
        f"{doc['changed_keys']} changed names{', full' if doc['full'] else ''}): {doc['new']} new, "
        f"{doc['changed']} changed, {doc['not_applicable']} no longer applicable; "
        f"{doc['alerts_queued']} alert(s) queued"
    )
    for item in doc["assets"]:
        parts = [f"+{len(item['new'])}" if item["new"] else "", f"~{len(item['changed'])}" if item["changed"] else ""]
        parts.append(f"-{len(item['not_applicable'])}" if item["not_applicable"] else "")
        golden = " (golden)" if item["golden"] else ""
        typer.echo(f"  {item['identifier']}{golden}: {' '.join(p for p in parts if p)} {', '.join(item['new'])}")


# -- monitor ----------------------------------------------------------------------------------------


def monitor_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Monitor YAML (kept in the store; later runs may omit it).")
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="json or text.")] = "text",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    once: Annotated[
        bool, typer.Option("--once", help="Poll, check the database and deliver alerts once; exit.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Watch registries, rematch on new advisories, send alerts; runs until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from shieldwall.service.monitor import Monitor, configure_logging, effective_config

    if log_format not in ("json", "text"):
        raise typer.BadParameter("--log-format must be json or text")
    configure_logging(log_format, log_level)
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    def run() -> None:
        with _open_store() as store:
            settings = effective_config(store, config)
            monitor = Monitor(store, settings)
            if once:
                monitor.poll_once()
                monitor.drain_notifications()
                monitor.check_vulndb()
                monitor.dispatch_alerts()
                return
            previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                monitor.run(stop)
            finally:
                for sig, old in previous.items():
                    signal.signal(sig, old)

    _guarded(run, debug)
