"""Dashboard pages for the daily questions: ``/exposure``, ``/components``, ``/vulnerabilities``.

Server-rendered like the rest of the dashboard; every filter is a query
parameter (so a view can be bookmarked and shared), every list is paginated by
the server, and each page calls the same function as its API route
(``/api/v1/exposure``, ``/api/v1/components``, ``/api/v1/vulnerabilities``), so
the numbers shown are the API's. Unusable parameters are ignored (the API
answers 422 for them) rather than failing the page.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from shieldwall.api import queries
from shieldwall.api.context import context
from shieldwall.api.dashboard.charts import COLOURS, bar_chart, trend_chart
from shieldwall.api.dashboard.views import SEVERITIES, _render, _viewer
from shieldwall.api.insights.components import parse_query, search_components
from shieldwall.api.insights.exposure import TREND_DAYS, exposure
from shieldwall.api.insights.facts import DEFAULT_HIGH_EPSS
from shieldwall.api.insights.vulnerabilities import VulnFilter, VulnSort, vulnerabilities
from shieldwall.api.queries import ACTIVE
from shieldwall.api.routes.common import MAX_ID
from shieldwall.errors import InputError

router = APIRouter(include_in_schema=False)
ASSET_KINDS = ["image", "host", "container", "source", "sbom"]
Text = Annotated[str, Query(max_length=300)]


def _probability(text: str, default: float | None) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return default
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else default


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) <= 1_000_000 else 1


def _tri(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text)


def _pager(path: str, params: Sequence[tuple[str, str]], page: int, pages: int) -> dict[str, str]:
    def url(n: int) -> str:
        return f"{path}?{urllib.parse.urlencode([*params, ('page', str(n))])}"

    return {
        "first": url(1) if page > 1 else "",
        "prev": url(page - 1) if page > 1 else "",
        "next": url(page + 1) if page < pages else "",
        "last": url(pages) if page < pages else "",
    }


@router.get("/exposure", response_class=HTMLResponse)
def exposure_page(request: Request, epss: Text = "", days: Text = "30") -> Response:
    """Where are we exposed? Open findings across environments and asset kinds, what is urgent, the trend."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    threshold = _probability(epss, DEFAULT_HIGH_EPSS) if epss else DEFAULT_HIGH_EPSS
    span = int(days) if days.isdigit() and int(days) in TREND_DAYS else TREND_DAYS[0]
    data = exposure(ctx.store, epss_threshold=threshold or 0.0, days=span)
    return _render(
        request,
        "exposure.html.j2",
        viewer,
        e=data,
        severity_chart=bar_chart(data.total.by_severity, COLOURS),
        trend=trend_chart(data.trend),
        trend_days=TREND_DAYS,
        epss_param=f"{data.epss_threshold:g}",
    )


@router.get("/components", response_class=HTMLResponse)
def components_page(
    request: Request,
    q: Text = "",
    range: Text = "",
    ecosystem: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "active",
    page: Annotated[str, Query(max_length=12)] = "1",
) -> Response:
    """Where is this component? A package, PURL (with a version range) or advisory ID across every asset."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    status = status if status in ("active", "all") else "active"
    result, error = None, ""
    if q.strip():
        try:
            query = parse_query(q, range, ecosystem=ecosystem, status=status)
            result = search_components(ctx.store, query, page=_page_number(page), vulndb_path=ctx.vulndb_path)
        except InputError as exc:
            error = str(exc)
    params = [(k, v) for k, v in (("q", q), ("range", range), ("ecosystem", ecosystem), ("status", status)) if v]
    return _render(
        request,
        "components.html.j2",
        viewer,
        q=q,
        range=range,
        ecosystem=ecosystem,
        status=status,
        result=result,
        error=error,
        pager=_pager("/components", params, result.page, result.pages) if result else {},
    )


@router.get("/vulnerabilities", response_class=HTMLResponse)
def vulnerabilities_page(
    request: Request,
    severity: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    kev: Annotated[str, Query(max_length=8)] = "",
    fixable: Annotated[str, Query(max_length=8)] = "",
    epss_min: Annotated[str, Query(max_length=12)] = "",
    environment: Annotated[str, Query(max_length=128)] = "",
    asset_kind: Annotated[str, Query(max_length=16)] = "",
    asset_id: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "active",
    sort: Annotated[str, Query(max_length=16)] = "priority",
    page: Annotated[str, Query(max_length=12)] = "1",
) -> Response:
    """What do I fix first? One row per advisory with the affected assets counted; filters stay in the URL."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    chosen = [s for s in SEVERITIES if s in severity]
    order = VulnSort(sort) if sort in set(VulnSort) else VulnSort.PRIORITY
    status = status if status in ("active", "all") else "active"
    asset = int(asset_id) if asset_id.isdigit() and 0 < int(asset_id) <= MAX_ID else None
    filt = VulnFilter(
        severities=tuple(chosen),
        statuses=ACTIVE if status == "active" else (),
        kev=_tri(kev),
        fixable=_tri(fixable),
        epss_min=_probability(epss_min, None) if epss_min else None,
        environment=environment,
        asset_kind=asset_kind if asset_kind in ASSET_KINDS else "",
        asset_id=asset,
        q=q,
    )
    result = vulnerabilities(ctx.store, filt, sort=order, page=_page_number(page))
    params = [("severity", s) for s in chosen] + [
        (k, v)
        for k, v in (
            ("kev", kev if filt.kev is not None else ""),
            ("fixable", fixable if filt.fixable is not None else ""),
            ("epss_min", epss_min if filt.epss_min is not None else ""),
            ("environment", environment),
            ("asset_kind", filt.asset_kind),
            ("asset_id", str(asset) if asset else ""),
            ("q", q),
            ("status", status),
            ("sort", str(order)),
        )
        if v
    ]
    return _render(
        request,
        "vulnerabilities.html.j2",
        viewer,
        result=result,
        chosen=chosen,
        kev=kev if filt.kev is not None else "",
        fixable=fixable if filt.fixable is not None else "",
        epss_min=epss_min if filt.epss_min is not None else "",
        environment=environment,
        environments=queries.environments(ctx.store),
        asset_kind=filt.asset_kind,
        asset_kinds=ASSET_KINDS,
        asset_id=str(asset) if asset else "",
        q=q,
        status=status,
        sort=str(order),
        sorts=[str(s) for s in VulnSort],
        pager=_pager("/vulnerabilities", params, result.page, result.pages),
    )


def install(app: FastAPI) -> None:
    """Add the exposure, components and vulnerabilities pages (after ``views.install``: log-in is shared)."""
    app.include_router(router)
