"""Dashboard pages "What changed?": the fleet over a period (``/changes``) and one asset's history.

The pages call the functions behind ``GET /api/v1/changes`` and
``GET /api/v1/assets/{id}/changes[/{scan_id}]`` (``api.changes``), so the
numbers shown are the API's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shieldwall.api import changes, queries
from shieldwall.api.context import context
from shieldwall.api.dashboard.nav import add_nav
from shieldwall.api.dashboard.views import SEVERITIES, _get, _render, _viewer
from shieldwall.api.routes.changes import MAX_DAYS, parse_period
from shieldwall.api.routes.common import IdPath

router = APIRouter(include_in_schema=False)
PERIODS = (1, 7, 30, 90)


@router.get("/changes", response_class=HTMLResponse)
def fleet_changes_page(
    request: Request,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7,
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """What the fleet gained, lost and rebuilt in a period, and the findings that came and went."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    try:
        start, end = parse_period(days, since, until)
        error = ""
    except HTTPException as exc:
        start, end = parse_period(7, "", "")
        error = str(exc.detail)
    data = changes.fleet_changes(ctx.store, start, end)
    return _render(
        request,
        "changes.html.j2",
        viewer,
        c=data,
        days=days,
        since=since,
        until=until,
        periods=PERIODS,
        error=error,
        order=SEVERITIES,
        assets=queries.asset_choices(ctx.store),
    )


@router.get("/assets/{asset_id}/changes", response_class=HTMLResponse)
def asset_changes_page(
    request: Request, asset_id: IdPath, scan: Annotated[int | None, Query(ge=1, le=2**62)] = None
) -> Response:
    """One asset's scans over time and, for the chosen scan (the newest by default), what it changed."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    history = _get(lambda: changes.asset_history(ctx.store, asset_id))
    chosen = scan or (history.steps[0].scan.id if history.steps else None)
    detail = _get(lambda: changes.scan_changes(ctx.store, asset_id, chosen)) if chosen else None
    return _render(request, "asset_changes.html.j2", viewer, h=history, d=detail, chosen=chosen, order=SEVERITIES)


@router.get("/changes/asset")
def asset_changes_redirect(request: Request, asset_id: Annotated[int, Query(ge=1, le=2**62)]) -> Response:
    """The asset picker of ``/changes``: go to the chosen asset's history."""
    _viewer(request, context(request))
    return RedirectResponse(f"/assets/{asset_id}/changes", status_code=303)


def install(app: FastAPI) -> None:
    """Add the pages and their navigation entry (after ``views.install``: the log-in redirect is shared)."""
    add_nav("/changes", "Changes")
    app.include_router(router)
