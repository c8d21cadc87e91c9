"""Dashboard page ``/ips``: which assets are shielded against what, exposed vulnerabilities, what was blocked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from shieldwall.api.context import context
from shieldwall.api.dashboard.views import _render, _viewer
from shieldwall.api.routes.common import MAX_ID
from shieldwall.vpatch.events import list_events
from shieldwall.vpatch.views import shields

router = APIRouter(include_in_schema=False)

PAGE = 2000
"""Findings per page of the shields table (in finding-ID order)."""


@router.get("/ips", response_class=HTMLResponse)
def ips_page(
    request: Request,
    asset_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """Open vulnerabilities with their network shield (or none), and the latest blocked requests (paged)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    views = shields(ctx.store, asset_id=asset_id, limit=PAGE + 1, offset=offset)
    more = len(views) > PAGE
    views = views[:PAGE]
    return _render(
        request,
        "ips.html.j2",
        viewer,
        shields=views,
        shielded=sum(v.shielded for v in views),
        unshielded=sum(not v.shielded for v in views),
        blocked=list_events(ctx.store, asset_id=asset_id, kind="ips.drop", limit=100),
        asset_id=asset_id,
        offset=offset,
        page=PAGE,
        more=more,
    )


def install(app: FastAPI) -> None:
    """Add the IPS page to ``app`` (after the main dashboard's ``install``)."""
    app.include_router(router)
