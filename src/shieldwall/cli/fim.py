"""``shieldwall fim expect|windows|close``: announce the changes a deploy will make, over the API with a token.

The API is ``--api-url`` (or ``SHIELDWALL_API_URL``) and the token ``--token``
(or ``SHIELDWALL_API_TOKEN``: an operator token from ``shieldwall token
create --role operator``), sent as ``Authorization: Bearer``. The token is
never printed. Exit codes: 0 done, 2 bad input or the API refused, 3 the API
could not be reached.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer

fim_app = typer.Typer(help="File integrity monitoring: change windows for deploys.", no_args_is_help=True)

ApiUrl = Annotated[str, typer.Option("--api-url", help="The manager's URL (default: SHIELDWALL_API_URL).")]
Token = Annotated[
    str, typer.Option("--token", help="An API token (default: SHIELDWALL_API_TOKEN).", show_default=False)
]

_CI_DEPLOY_IDS = ("SHIELDWALL_DEPLOY_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_TAG")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"shieldwall: {message}", err=True)
    return typer.Exit(code)


def _call(
    method: str,
    path: str,
    api_url: str,
    token: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    import httpx

    url = (api_url or os.environ.get("SHIELDWALL_API_URL", "")).rstrip("/")
    secret = token or os.environ.get("SHIELDWALL_API_TOKEN", "")
    if not url:
        raise _fail("no API URL: pass --api-url or set SHIELDWALL_API_URL", 2)
    if not secret:
        raise _fail("no API token: pass --token or set SHIELDWALL_API_TOKEN", 2)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=30.0) as client:
            response = client.request(method, f"/api/v1{path}", json=body, params=params)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc}", 3) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise _fail(f"the API refused ({response.status_code}): {str(detail)[:500]}", 2)
    return response.json()


@fim_app.command("expect")
def expect(
    env: Annotated[str, typer.Option("--env", help="The environment the hosts belong to (prod, staging...).")],
    host: Annotated[str, typer.Option("--host", help="Host name glob ('web-*').")],
    path: Annotated[str, typer.Option("--path", help="Absolute path or glob the deploy changes.")],
    duration: Annotated[str, typer.Option("--for", help="How long: 90s, 15m, 2h, 1d.")] = "15m",
    deploy_id: Annotated[
        str,
        typer.Option("--deploy-id", help="Default: SHIELDWALL_DEPLOY_ID, GITHUB_RUN_ID, CI_PIPELINE_ID, BUILD_TAG."),
    ] = "",
    api_url: ApiUrl = "",
    token: Token = "",
) -> None:
    """Open a change window: FIM changes on matching hosts and paths are tagged expected with the deploy ID."""
    from shieldwall.errors import InputError
    from shieldwall.service.change_windows import parse_duration

    try:
        seconds = int(parse_duration(duration).total_seconds())
    except InputError as exc:
        raise _fail(str(exc), 2) from None
    chosen = deploy_id or next((os.environ[k] for k in _CI_DEPLOY_IDS if os.environ.get(k)), "")
    if not chosen:
        raise _fail("no deploy ID: pass --deploy-id (or run in CI with GITHUB_RUN_ID / CI_PIPELINE_ID)", 2)
    body = {"environment": env, "host": host, "path": path, "deploy_id": chosen, "duration_seconds": seconds}
    window = _call("POST", "/fim/windows", api_url, token, body)
    typer.echo(
        f"change window {window['id']}: {window['environment']} {window['host']} {window['path']} "
        f"expected until {window['ends_at']} (deploy {window['deploy_id']})"
    )


@fim_app.command("windows")
def windows(
    env: Annotated[str, typer.Option("--env", help="Only this environment.")] = "",
    active: Annotated[bool, typer.Option("--active", help="Only windows open now.")] = False,
    api_url: ApiUrl = "",
    token: Token = "",
) -> None:
    """List change windows as JSON, newest first."""
    params = {"active": str(active).lower(), **({"environment": env} if env else {})}
    sys.stdout.write(json.dumps(_call("GET", "/fim/windows", api_url, token, params=params), indent=2) + "\n")


@fim_app.command("close")
def close(
    window_id: Annotated[int, typer.Argument(help="The window's ID.", min=1)],
    api_url: ApiUrl = "",
    token: Token = "",
) -> None:
    """End a change window now (the deploy finished)."""
    window = _call("POST", f"/fim/windows/{window_id}/close", api_url, token)
    typer.echo(f"change window {window['id']} closed at {window['ends_at']}")
