"""``shieldwall db``: update, import, export and inspect the local advisory database.

Progress and summaries go to standard error; only ``db status --format
json`` writes to standard output. Exit codes as for every command: 0
success, 2 input/network problem (the database is unchanged), 3 internal error.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Annotated, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from shieldwall import __version__
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.report.safe_text import SafeTable, print_error, untrusted
from shieldwall.vulndb.bundle import export_bundle, import_bundle
from shieldwall.vulndb.importers import FeedFormat, ImportResult, default_source_name, detect_format, import_feed
from shieldwall.vulndb.model import DbStatus, SourceInfo
from shieldwall.vulndb.samples import import_bundled_samples
from shieldwall.vulndb.store import VulnDB, default_db_path
from shieldwall.vulndb.update import (
    DEFAULT_ECOSYSTEMS,
    MAX_DOWNLOAD_BYTES,
    NullUpdateProgress,
    UpdateOptions,
    UpdateProgress,
    UpdateReport,
    update_database,
)

EXIT_INPUT = 2
EXIT_INTERNAL = 3

db_app = typer.Typer(
    name="db",
    help="Manage the local vulnerability database (update, import, export, status).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

DbOpt = Annotated[Path | None, typer.Option("--db", help="Database file (default: <data dir>/vulndb/vulndb.sqlite).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no summary.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]


class StatusFormat(StrEnum):
    """Output formats of ``db status``."""

    TABLE = "table"
    JSON = "json"


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _guard(action: Callable[[], T], debug: bool) -> T:
    """Run ``action``, mapping errors to exit codes with a one-line diagnosis."""
    try:
        return action()
    except InputError as exc:
        print_error(_stderr(), str(exc))
        raise typer.Exit(EXIT_INPUT) from None
    except ShieldwallError as exc:
        print_error(_stderr(), str(exc))
        raise typer.Exit(EXIT_INTERNAL) from None
    except KeyboardInterrupt:
        _stderr().print("[bold red]error:[/] interrupted; the database was not changed")
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print_error(_stderr(), f"{type(exc).__name__}: {exc} (run with --debug)", label="internal error:")
        raise typer.Exit(EXIT_INTERNAL) from None


class RichUpdateProgress:
    """Download bars per feed and an import spinner, on standard error."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichUpdateProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def download_started(self, name: str, total: int | None, resumed_from: int) -> None:
        """A bar per feed; a resumed one starts where the partial file ends."""
        label = f"{name} (resuming)" if resumed_from else name
        self._tasks[name] = self._progress.add_task(label, total=total, completed=resumed_from)

    def download_advanced(self, name: str, nbytes: int) -> None:
        """Move the feed's bar."""
        if name in self._tasks:
            self._progress.advance(self._tasks[name], nbytes)

    def download_finished(self, name: str, status: str) -> None:
        """Remove the bar and say what happened."""
        task = self._tasks.pop(name, None)
        if task is not None:
            self._progress.remove_task(task)
        self._progress.console.print(f"  {name}: {status}")

    def import_started(self, name: str) -> None:
        """A spinner while a source imports."""
        self._tasks[f"import:{name}"] = self._progress.add_task(f"importing {name}", total=None)

    def import_finished(self, name: str, result: ImportResult | None) -> None:
        """Remove the spinner."""
        task = self._tasks.pop(f"import:{name}", None)
        if task is not None:
            self._progress.remove_task(task)


@contextmanager
def _update_progress(quiet: bool) -> Iterator[UpdateProgress]:
    console = _stderr()
    if quiet or not console.is_terminal:
        yield NullUpdateProgress()
        return
    with RichUpdateProgress(console) as progress:
        yield progress


def _describe(result: ImportResult) -> str:
    stats = result.stats
    if stats is None:
        return f"{result.source}: {result.count} entries"
    return (
        f"{result.source}: {stats.total} advisories ({stats.added} new, {stats.changed} changed, "
        f"{stats.removed} removed, {stats.unchanged} unchanged)"
    )


def _print_update(report: UpdateReport) -> None:
    console = _stderr()
    for fetch in report.fetched:
        what = {"not-modified": "unchanged (304)", "downloaded": "downloaded", "resumed": "resumed"}.get(
            fetch.status, fetch.status
        )
        console.print(f"{fetch.request.name}: {what}, {fetch.transferred} bytes transferred")
    for result in report.imported:
        console.print(_describe(result))
        for warning in result.warnings[:5]:
            console.print(Text.assemble(("  skipped:", "yellow"), " ", untrusted(str(warning))))
        if len(result.warnings) > 5:
            console.print(f"  [yellow]... and {len(result.warnings) - 5} more skipped records[/]")
    console.print(
        f"[bold]database updated[/]: {report.db_path} ({len(report.imported)} sources imported, "
        f"{len(report.unchanged)} unchanged, {len(report.changed_packages)} packages with changed advisories)"
    )


def _split_list(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))


@db_app.command("update")
def update(
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="OSV bucket URL (default $SHIELDWALL_OSV_URL or the official OSV bucket)."),
    ] = "",
    ecosystem: Annotated[
        list[str] | None,
        typer.Option(
            "--ecosystem",
            "-e",
            help=f"Ecosystems to fetch, repeatable or comma-separated (default: {', '.join(DEFAULT_ECOSYSTEMS)}).",
        ),
    ] = None,
    kev_url: Annotated[str, typer.Option("--kev-url", help="Also fetch the CISA KEV catalogue (JSON or CSV).")] = "",
    epss_url: Annotated[str, typer.Option("--epss-url", help="Also fetch EPSS scores (CSV or CSV.gz).")] = "",
    timeout: Annotated[float, typer.Option("--timeout", help="Network timeout in seconds.")] = 60.0,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Download the OSV feeds that changed (ETag/Last-Modified, resumable) and swap in the new database."""
    options = UpdateOptions(
        base_url=base_url,
        ecosystems=_split_list(ecosystem) or DEFAULT_ECOSYSTEMS,
        kev_url=kev_url,
        epss_url=epss_url,
        db_path=db,
        timeout=timeout,
    )

    def run() -> UpdateReport:
        with _update_progress(quiet) as progress:
            return update_database(options, progress)

    report = _guard(run, debug)
    if not quiet:
        _print_update(report)


def _is_url(location: str) -> bool:
    return urllib.parse.urlsplit(location).scheme in ("http", "https")


@contextmanager
def _downloaded(url: str, quiet: bool) -> Iterator[Path]:
    """Download ``url`` to a temporary file (bounded) and yield its path."""
    name = Path(urllib.parse.urlsplit(url).path).name or "feed"
    with tempfile.TemporaryDirectory(prefix="shieldwall-import-") as work:
        target = Path(work) / name
        try:
            with (
                httpx.Client(
                    timeout=httpx.Timeout(60.0),
                    follow_redirects=True,
                    headers={"User-Agent": f"shieldwall/{__version__}"},
                ) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise InputError(f"{url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
                total = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(256 * 1024):
                        total += len(chunk)
                        if total > MAX_DOWNLOAD_BYTES:
                            raise InputError(f"{url}: body exceeds the {MAX_DOWNLOAD_BYTES}-byte limit")
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise InputError(f"{url}: {type(exc).__name__}: {exc}") from None
        if not quiet:
            _stderr().print(f"downloaded {url} ({total} bytes)")
        yield target


def _import_location(
    location: str,
    fmt: FeedFormat | None,
    source_name: str,
    db_path: Path,
    quiet: bool,
    public_key: Path | None,
    allow_empty: bool = False,
) -> None:
    console = _stderr()

    def do_import(path: Path, url: str) -> None:
        detected = fmt or detect_format(path)
        if detected is FeedFormat.BUNDLE:
            manifest = import_bundle(path, db_path, public_key=public_key)
            if not quiet:
                console.print(
                    f"[bold]imported bundle[/] {location}: {manifest.advisories} advisories, "
                    f"sha256 {manifest.sha256[:16]}… verified{' and signature checked' if public_key else ''}"
                )
            return
        source = None
        if source_name or url:
            source = SourceInfo(source_name or default_source_name(detected, url), url=url or str(path.resolve()))
        with VulnDB.build(db_path) as writer:
            result = import_feed(writer, path, detected, source=source, allow_empty=allow_empty)
            changed = len(writer.changed_packages)
        if not quiet:
            console.print(_describe(result))
            for warning in result.warnings[:10]:
                console.print(Text.assemble(("  skipped:", "yellow"), " ", untrusted(str(warning))))
            if len(result.warnings) > 10:
                console.print(f"  [yellow]... and {len(result.warnings) - 10} more skipped records[/]")
            console.print(f"[bold]database updated[/]: {db_path} ({changed} packages with changed advisories)")

    if _is_url(location):
        with _downloaded(location, quiet) as path:
            do_import(path, location)
    else:
        path = Path(location)
        if not path.exists():
            raise InputError(f"{location}: no such file or directory")
        do_import(path, "")


@db_app.command("import")
def import_(
    location: Annotated[
        str,
        typer.Argument(help="A directory, file (JSON/YAML/zip/CSV/Markdown), URL, or a bundle made by `db export`."),
    ],
    format: Annotated[
        FeedFormat | None, typer.Option("--format", "-f", help="Feed format; detected when omitted.")
    ] = None,
    source_name: Annotated[
        str, typer.Option("--source", help="Name the import is recorded under (re-importing it replaces it).")
    ] = "",
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="For bundles: require a valid Ed25519 signature.")
    ] = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept a feed with no records (empties the source).")
    ] = False,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Import advisories (OSV, RustSec, Alpine secdb), KEV or EPSS data, or a database bundle."""
    db_path = db or default_db_path()
    _guard(lambda: _import_location(location, format, source_name, db_path, quiet, public_key, allow_empty), debug)


@db_app.command("import-bundle")
def import_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(help="A bundle made by `shieldwall db export`.")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Require a valid Ed25519 signature by this PEM public key.")
    ] = None,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Verify a bundle's SHA-256 (and signature) and make its database the current one."""
    db_path = db or default_db_path()
    manifest = _guard(lambda: import_bundle(bundle, db_path, public_key=public_key), debug)
    if not quiet:
        _stderr().print(
            f"[bold]imported bundle[/] {bundle}: {manifest.advisories} advisories, sha256 verified"
            f"{', signature verified' if public_key else ''}; database {db_path}"
        )


@db_app.command("export")
def export(
    bundle: Annotated[Path, typer.Argument(help="Bundle file to write (a tar).")],
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Sign the manifest with this PEM Ed25519 private key.")
    ] = None,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write the database and a manifest with its SHA-256 to a bundle for air-gapped sites."""
    manifest = _guard(lambda: export_bundle(bundle, db, signing_key=signing_key), debug)
    if not quiet:
        _stderr().print(
            f"[bold]wrote[/] {bundle}: {manifest.advisories} advisories, sha256 {manifest.sha256}"
            f"{', signed' if manifest.signed else ''}"
        )


@db_app.command("import-samples")
def import_samples(db: DbOpt = None, quiet: QuietOpt = False, debug: DebugOpt = False) -> None:
    """Import the sample advisories bundled for the offline demo."""
    db_path = db or default_db_path()
    count = _guard(lambda: import_bundled_samples(db_path), debug)
    if not quiet:
        _stderr().print(f"imported {count} sample advisories into {db_path}")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(seconds, 0) / 60:.0f} minutes"


def status_json(status: DbStatus) -> str:
    """``db status --format json``: the status as a JSON object."""
    data = asdict(status)
    data["ecosystems"] = {eco: count for eco, count in status.ecosystems}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _print_status(status: DbStatus, console: Console) -> None:
    console.print(f"[bold]Database[/] {status.path} (schema {status.schema_version})")
    console.print(f"Last update: {status.last_update or 'unknown'} ({_age(status.age_seconds)} ago)")
    console.print(
        f"Advisories: {status.advisories}; KEV entries: {status.kev_entries}; EPSS scores: {status.epss_entries}"
    )
    sources = SafeTable(title="Sources", title_justify="left")
    for column in ("name", "kind", "count", "imported", "url"):
        sources.add_column(column, justify="right" if column == "count" else "left", overflow="fold")
    for s in status.sources:
        sources.add_row(s.name, s.kind, str(s.count), s.imported_at, s.url)
    console.print(sources)
    ecosystems = SafeTable(title="Advisories per ecosystem", title_justify="left")
    ecosystems.add_column("ecosystem")
    ecosystems.add_column("advisories", justify="right")
    for eco, count in status.ecosystems:
        ecosystems.add_row(eco, str(count))
    console.print(ecosystems)


@db_app.command("status")
def status(
    format: Annotated[StatusFormat, typer.Option("--format", "-f", help="table or json.")] = StatusFormat.TABLE,
    db: DbOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show the database's sources, advisory counts per ecosystem, last update and age."""

    def read() -> DbStatus:
        with VulnDB.open(db) as opened:
            return opened.status(datetime.now(UTC))

    result = _guard(read, debug)
    missing = _guard(lambda: inventoried_without_data(result), debug)
    if format is StatusFormat.JSON:
        data = json.loads(status_json(result))
        data["inventoried_without_data"] = missing
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        console = Console(width=max(100, int(os.environ.get("COLUMNS", "0") or 0)))
        _print_status(result, console)
        if missing:
            console.print(
                f"[yellow]Inventoried ecosystems without data:[/] {', '.join(missing)} "
                "(scans of these packages fail closed; run `shieldwall db update`)",
                highlight=False,
                soft_wrap=True,
            )


def inventoried_without_data(status: DbStatus) -> list[str] | None:
    """Base ecosystems of the store's inventories that the database has no advisories for.

    None when there is no store to ask (no ``SHIELDWALL_DATABASE_URL`` and no SQLite store file): the
    database alone cannot know what will be scanned.
    """
    from sqlalchemy import select

    from shieldwall.store.core import Store
    from shieldwall.store.db import ENV_DATABASE_URL, database_url
    from shieldwall.store.schema import InventoryPackage

    url = database_url()
    if not os.environ.get(ENV_DATABASE_URL, "").strip():
        file = Path(url.removeprefix("sqlite:///"))
        if not file.is_file():
            return None
    store = Store.open(url, run_migrations=False)
    try:
        with store.session() as session:
            inventoried = set(session.scalars(select(InventoryPackage.ecosystem).distinct()))
    finally:
        store.close()
    held = {eco.split(":", 1)[0].strip() for eco, _ in status.ecosystems}
    return sorted(e for e in inventoried if e and e not in held)
