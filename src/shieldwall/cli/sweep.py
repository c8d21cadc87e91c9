"""``shieldwall monitor``: the monitor service (``store_cmds.monitor_cmd``) and ``monitor sweep REGISTRY``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shieldwall.cli.store_cmds import DebugOpt, FormatOpt, _check_format, _guarded, _open_store, monitor_cmd

monitor_app = typer.Typer(
    help="Watch registries, rematch on new advisories, send alerts; sweep a registry.",
    invoke_without_command=True,
)


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
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
    if ctx.invoked_subcommand is not None:
        return
    monitor_cmd(config=config, log_format=log_format, log_level=log_level, once=once, debug=debug)


@monitor_app.command("sweep")
def sweep_cmd(
    registry: Annotated[str, typer.Argument(help="Registry host[:port] as in image references.")],
    repository: Annotated[list[str] | None, typer.Option("--repository", help="Repository glob (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag glob (repeatable).")] = None,
    environment: Annotated[str, typer.Option("--environment", help="Environment of the scanned assets.")] = "",
    insecure: Annotated[bool, typer.Option("--insecure", help="Plain http (a local registry).")] = False,
    anonymous: Annotated[bool, typer.Option("--anonymous", help="Send no credentials.")] = False,
    max_tags: Annotated[int, typer.Option("--max-tags", help="Tags per repository at most.")] = 500,
    format: FormatOpt = "table",
    debug: DebugOpt = False,
) -> None:
    """Enumerate the catalog and tags and schedule a scan of every digest not yet scanned.

    With SHIELDWALL_BROKER_URL the scans are queued for `shieldwall worker`; without it they run here.
    """
    from shieldwall.service.dispatch import remote_dispatch
    from shieldwall.service.monitor_config import WatchedRegistry
    from shieldwall.service.sweep import sweep_registry

    def run() -> dict[str, Any]:
        _check_format(format)
        watched = WatchedRegistry(
            url=registry,
            repositories=tuple(repository or ("*",)),
            tags=tuple(tag or ("*",)),
            environment=environment,
            insecure=insecure,
            anonymous=anonymous,
            max_tags_per_repository=max_tags,
        )
        if insecure:  # for the scans run here (workers take SHIELDWALL_INSECURE_REGISTRIES from their own env)
            import os

            from shieldwall.target.registry import ENV_INSECURE

            current = [h for h in os.environ.get(ENV_INSECURE, "").split(",") if h.strip()]
            os.environ[ENV_INSECURE] = ",".join(dict.fromkeys([*current, registry.lower()]))
        with _open_store() as store:
            remote = remote_dispatch()
            if remote is not None:
                try:
                    report = sweep_registry(store, watched, remote)
                finally:
                    remote.close()
                return {**report.to_dict(), "queued": True}
            inline = _inline(store)
            report = sweep_registry(store, watched, inline)
            outcomes = [str(r.get("outcome", "")) for r in inline.results]
            return {**report.to_dict(), "queued": False, "scanned": outcomes.count("scanned")}

    doc = _guarded(run, debug)
    if format == "json":
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    where = "queued for the workers" if doc["queued"] else f"scanned here: {doc.get('scanned', 0)}"
    typer.echo(
        f"{doc['registry']}: {doc['tags']} tags, {doc['digests']} digests; {doc['known']} known, "
        f"{doc['tagged']} newly tagged, {doc['scheduled']} to scan ({where})"
    )
    for error in doc["errors"]:
        typer.echo(f"  error: {error}", err=True)


def _inline(store: Any) -> Any:
    from shieldwall.service.dispatch import InlineDispatch
    from shieldwall.service.scan import ScanOptions
    from shieldwall.service.tasks import TaskContext, load_tasks

    tasks = load_tasks()
    ctx = TaskContext(store=store, options=ScanOptions())
    return InlineDispatch(lambda name, payload, _key: tasks[name](ctx, payload))
