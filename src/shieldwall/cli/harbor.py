"""``shieldwall harbor serve``: the Harbor pluggable scanner adapter.

FastAPI and uvicorn are imported inside ``serve`` so that ``shieldwall --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from shieldwall.cli.api_cmds import DebugOpt, _guarded

harbor_app = typer.Typer(help="Harbor pluggable scanner adapter (spec v1.0-1.2).", no_args_is_help=True)
ENV_TOKEN = "SHIELDWALL_HARBOR_TOKEN"


@harbor_app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)] = 8085,
    cert: Annotated[Path | None, typer.Option("--cert", help="TLS certificate (PEM) to serve https.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Concurrent scans.", min=1, max=16)] = 2,
    allowed_registry: Annotated[
        list[str] | None,
        typer.Option("--allowed-registry", help="Registry host glob Harbor may send (repeatable; default: any)."),
    ] = None,
    registry_ca: Annotated[
        Path | None, typer.Option("--registry-ca", help="CA bundle that vouches for Harbor's registry.")
    ] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Record scans in the store.")] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    debug: DebugOpt = False,
) -> None:
    """Serve /api/v1/metadata, /api/v1/scan and /api/v1/scan/{id}/report until SIGTERM.

    Harbor authenticates with `Authorization: Bearer $SHIELDWALL_HARBOR_TOKEN` when that variable is set.
    """
    import uvicorn

    from shieldwall.api import ApiSettings
    from shieldwall.harbor.app import create_app
    from shieldwall.harbor.jobs import HarborJobs
    from shieldwall.service.scan import ScanOptions
    from shieldwall.store import Store

    if (cert is None) != (key is None):
        raise typer.BadParameter("--cert and --key go together")
    settings = _guarded(ApiSettings.from_environ, debug)
    store = _guarded(Store.open, debug) if record else None
    options = ScanOptions(cache_dir=settings.cache_dir, data_dir=settings.data_dir, use_cache=settings.scan_cache)
    jobs = HarborJobs(
        options, store=store, workers=workers, allowed_registries=tuple(allowed_registry or ()),
        verify=str(registry_ca) if registry_ca else True,
    )  # fmt: skip
    try:
        app = create_app(jobs, api_token=os.environ.get(ENV_TOKEN, ""), vulndb_path=settings.vulndb_path)
        uvicorn.run(
            app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False,
            ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None,
        )  # fmt: skip
    finally:
        jobs.shutdown()
        if store is not None:
            store.close()
