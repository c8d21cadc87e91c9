"""``shieldwall worker``: start a Celery worker; ``shieldwall worker dead-letters``: list tasks that gave up."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from shieldwall.cli.store_cmds import DebugOpt, FormatOpt, _check_format, _guarded, _open_store

worker_app = typer.Typer(
    help="Run distributed tasks (needs SHIELDWALL_BROKER_URL); list dead letters.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@worker_app.callback()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", help="Tasks at once (default: the number of CPUs).")
    ] = 0,
    pool: Annotated[str, typer.Option("--pool", help="prefork, solo or threads.")] = "prefork",
    loglevel: Annotated[str, typer.Option("--loglevel", help="debug, info, warning or error.")] = "info",
    hostname: Annotated[str, typer.Option("--hostname", help="Celery node name (default: celery@host).")] = "",
    debug: DebugOpt = False,
) -> None:
    """Start a Celery worker that runs scans, sweeps and rematches queued on SHIELDWALL_BROKER_URL."""
    if ctx.invoked_subcommand is not None:
        return
    if pool not in ("prefork", "solo", "threads"):
        raise typer.BadParameter("--pool must be prefork, solo or threads")
    from shieldwall.worker.app import start

    _guarded(lambda: start(concurrency or os.cpu_count() or 1, pool, loglevel, hostname), debug)


@worker_app.command("dead-letters")
def dead_letters_cmd(
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """Tasks that ended in the dead-letter state, with their error."""
    from shieldwall.worker.runs import dead_letters

    def run() -> list[dict[str, Any]]:
        _check_format(format)
        with _open_store() as store:
            return dead_letters(store, limit)

    rows = _guarded(run, debug)
    if format == "json":
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        typer.echo("no dead letters")
    for row in rows:
        typer.echo(f"{row['updated_at']}  {row['name']}  {row['id']}  attempts={row['attempts']}  {row['error'][:200]}")
