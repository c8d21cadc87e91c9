"""``shieldwall serve`` (the API and the dashboard) and ``shieldwall token create|revoke|list``.

FastAPI and uvicorn are imported inside ``serve`` so that ``shieldwall
--help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who is acting (default: user@host or SHIELDWALL_ACTOR).")]


def _guarded(action: Callable[[], T], debug: bool) -> T:
    from shieldwall.cli.common import guarded

    return guarded(action, debug)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)] = 8080,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Scan the bundled demo image into the store first and print a fresh admin token for the dashboard.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    debug: DebugOpt = False,
) -> None:
    """Run the REST API (/api/v1), /metrics and the dashboard on uvicorn until Ctrl-C or SIGTERM.

    The store is SHIELDWALL_DATABASE_URL (PostgreSQL) or the SQLite file in the data directory.
    Limits: SHIELDWALL_API_RATE_PER_MINUTE, SHIELDWALL_API_BURST, SHIELDWALL_API_MAX_BODY_BYTES,
    SHIELDWALL_API_MAX_UPLOAD_BYTES, SHIELDWALL_API_WORKERS, SHIELDWALL_API_ALLOWED_REGISTRIES;
    SHIELDWALL_OSV_URL is where POST /api/v1/db/update fetches from.
    """
    import uvicorn

    from shieldwall.api import ApiSettings, create_app
    from shieldwall.store import Store

    if log_level not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("--log-level must be debug, info, warning or error")
    settings = _guarded(ApiSettings.from_environ, debug)
    store = _guarded(Store.open, debug)
    try:
        if demo:
            from shieldwall.api.seed import seed_demo
            from shieldwall.api.tokens import Role, create_token

            seeded = _guarded(lambda: seed_demo(store, data_dir=settings.data_dir, cache_dir=settings.cache_dir), debug)
            token = _guarded(lambda: create_token(store, "demo", Role.ADMIN, actor="shieldwall-demo"), debug)
            typer.echo(
                f"demo data: asset {seeded.asset_id} ({seeded.open_findings} open findings) in {store.url}\n"
                f"log in at http://{host}:{port}/login with this admin token (shown once):\n{token.token}",
                err=True,
            )
        app = create_app(store, settings)
        uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)
    finally:
        store.close()


token_app = typer.Typer(help="API tokens for `shieldwall serve` (stored hashed; shown once).", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer (read), operator (scan, exceptions) or admin.")],
    name: Annotated[str, typer.Option("--name", help="Who or what the token is for (shown in the audit trail).")],
    actor: ActorOpt = "",
    debug: DebugOpt = False,
) -> None:
    """Create a token and print it on stdout, once; only its SHA-256 is stored."""
    from shieldwall.api.tokens import create_token, parse_role
    from shieldwall.store import Store

    def run() -> tuple[str, str]:
        chosen = parse_role(role)
        with Store.open() as store:
            created = create_token(store, name, chosen, actor=actor)
        return created.record.id, created.token

    token_id, token = _guarded(run, debug)
    typer.echo(f"created {role} token {token_id} for {name!r}; it is shown only now:", err=True)
    sys.stdout.write(token + "\n")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's ID (see `shieldwall token list`).")],
    actor: ActorOpt = "",
    debug: DebugOpt = False,
) -> None:
    """Revoke a token: it stops working at once."""
    from shieldwall.api.tokens import revoke_token
    from shieldwall.store import Store

    def run() -> None:
        with Store.open() as store:
            revoke_token(store, token_id, actor=actor)

    _guarded(run, debug)
    typer.echo(f"revoked token {token_id}")


@token_app.command("list")
def token_list(
    format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    debug: DebugOpt = False,
) -> None:
    """List tokens (never their secrets)."""
    import json

    from shieldwall.api.tokens import list_tokens
    from shieldwall.errors import InputError
    from shieldwall.store import Store

    def run() -> list[dict[str, object]]:
        if format not in ("table", "json"):
            raise InputError(f"unknown format {format!r} (choose table or json)")
        with Store.open() as store:
            return [t.to_dict() for t in list_tokens(store)]

    records = _guarded(run, debug)
    if format == "json":
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return
    for r in records:
        state = "active" if r["active"] else f"revoked {r['revoked_at']}"
        typer.echo(f"{r['id']}  {r['role']:<8}  {r['name']}  created {r['created_at']} by {r['created_by']}  {state}")
