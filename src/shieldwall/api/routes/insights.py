"""Exposure across environments, component search, findings grouped by vulnerability, an asset in pages.

The aggregates behind the dashboard's exposure, components and vulnerabilities
pages (``api/insights``): the pages and these routes call the same functions.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from shieldwall.api.auth import Viewer
from shieldwall.api.context import context
from shieldwall.api.insights import asset_page as pages
from shieldwall.api.insights.components import ComponentSearch, parse_query, search_components
from shieldwall.api.insights.exposure import Exposure, exposure
from shieldwall.api.insights.facts import DEFAULT_HIGH_EPSS
from shieldwall.api.insights.vulnerabilities import VulnFilter, VulnPage, VulnSort, vulnerabilities
from shieldwall.api.queries import ACTIVE, SEVERITY_ORDER
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath, IdQuery

router = APIRouter(tags=["insights"])

Probability = Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False)]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
StatusChoice = Literal["active", "all"]
AssetKindChoice = Literal["", "image", "host", "container", "source", "sbom"]


@router.get("/exposure", response_model=Exposure)
def get_exposure(
    request: Request,
    who: Viewer,
    epss: Probability = DEFAULT_HIGH_EPSS,
    days: Literal[30, 90] = 30,
) -> Exposure:
    """Open findings by environment and asset kind: new in the last 24 h, fixable, KEV, EPSS ≥ ``epss``, trend."""
    return exposure(context(request).store, epss_threshold=epss, days=days)


@router.get("/components", response_model=ComponentSearch, responses={**BAD_REQUEST})
def get_components(
    request: Request,
    who: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=300, description="package name, PURL or advisory ID")],
    range: Annotated[str, Query(max_length=300, description="e.g. <2.17.1 or >=2.0,<2.17.1")] = "",
    ecosystem: Annotated[str, Query(max_length=64)] = "",
    status: StatusChoice = "active",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> ComponentSearch:
    """Which images, hosts and containers hold a package (in a version range) or are affected by an advisory."""
    ctx = context(request)
    query = parse_query(q, range, ecosystem=ecosystem, status=status)
    return search_components(ctx.store, query, page=page, per_page=per_page, vulndb_path=ctx.vulndb_path)


@router.get("/vulnerabilities", response_model=VulnPage)
def get_vulnerabilities(
    request: Request,
    who: Viewer,
    severity: Annotated[list[Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]], Query()] = [],  # noqa: B006
    kev: bool | None = None,
    fixable: bool | None = None,
    epss_min: Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False)] = None,
    environment: Annotated[str, Query(max_length=128)] = "",
    asset_kind: AssetKindChoice = "",
    asset_id: IdQuery = None,
    q: Annotated[str, Query(max_length=200)] = "",
    status: StatusChoice = "active",
    sort: VulnSort = VulnSort.PRIORITY,
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> VulnPage:
    """Vulnerability findings grouped by advisory: affected assets, CVSS, EPSS, KEV, fixing versions, layers."""
    filt = VulnFilter(
        severities=tuple(s for s in SEVERITY_ORDER if s in severity),
        statuses=ACTIVE if status == "active" else (),
        kev=kev,
        fixable=fixable,
        epss_min=epss_min,
        environment=environment,
        asset_kind=asset_kind,
        asset_id=asset_id,
        q=q,
    )
    return vulnerabilities(context(request).store, filt, sort=sort, page=page, per_page=per_page)


@router.get("/assets/{asset_id}/layer-summary", response_model=list[pages.LayerSummary], responses={**NOT_FOUND})
def get_layer_summary(asset_id: IdPath, request: Request, who: Viewer) -> list[pages.LayerSummary]:
    """Each layer with the number of packages and open findings it introduced."""
    return pages.layer_summaries(context(request).store, asset_id)


@router.get("/assets/{asset_id}/evaluation", response_model=pages.Gap | None, responses={**NOT_FOUND})
def get_evaluation(asset_id: IdPath, request: Request, who: Viewer) -> pages.Gap | None:
    """Packages the asset's last scan did not evaluate for vulnerabilities (null when it evaluated all)."""
    return pages.not_evaluated(context(request).store, asset_id)


@router.get("/assets/{asset_id}/inventory", response_model=pages.PackagePage, responses={**NOT_FOUND})
def get_inventory_page(
    asset_id: IdPath,
    request: Request,
    who: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    layer: Annotated[int | None, Query(ge=-1, le=10_000)] = None,
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> pages.PackagePage:
    """One page of the asset's inventory (by layer, then name)."""
    return pages.packages_page(context(request).store, asset_id, q=q, layer=layer, page=page, per_page=per_page)


@router.get("/assets/{asset_id}/finding-groups", response_model=pages.GroupPage, responses={**NOT_FOUND})
def get_finding_groups(
    asset_id: IdPath,
    request: Request,
    who: Viewer,
    status: StatusChoice = "active",
    layer: Annotated[int | None, Query(ge=-1, le=10_000)] = None,
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> pages.GroupPage:
    """One page of the asset's findings grouped by (kind, rule, package, version) with their locations."""
    return pages.findings_page(
        context(request).store,
        asset_id,
        statuses=ACTIVE if status == "active" else (),
        layer=layer,
        page=page,
        per_page=per_page,
    )
