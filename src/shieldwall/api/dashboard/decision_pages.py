"""Dashboard page "Who decided what?" (``/decisions``): exceptions and statements by expiry, and the audit check.

The page calls the function behind ``GET /api/v1/decisions`` (``api.decisions``);
a broken audit chain is shown as broken at the top of the page, never hidden.
Operators revoke exceptions here with the same CSRF-protected form as the
finding page (``POST /exceptions/{id}/revoke``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from shieldwall.api import decisions
from shieldwall.api.context import context
from shieldwall.api.dashboard.nav import add_nav
from shieldwall.api.dashboard.views import _render, _viewer

router = APIRouter(include_in_schema=False)
WINDOWS = (7, 30, 90)


@router.get("/decisions", response_class=HTMLResponse)
def decisions_page(request: Request, within: Annotated[int, Query(ge=1, le=3660)] = 30) -> Response:
    """Exceptions and VEX/exception-file statements: expiring soon, expired, open-ended; decision events."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    data = decisions.decisions(ctx.store, within_days=within)
    return _render(request, "decisions.html.j2", viewer, d=data, within=within, windows=WINDOWS)


def install(app: FastAPI) -> None:
    """Add the page and its navigation entry (after ``views.install``)."""
    add_nav("/decisions", "Decisions")
    app.include_router(router)
