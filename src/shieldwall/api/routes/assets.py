"""Assets: list, one in full, its packages and layers (what each introduced), drift, and its HTML report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from shieldwall.api import queries
from shieldwall.api.auth import Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath, html_responses
from shieldwall.api.schemas import AssetDetailOut, AssetOut, AssetUpdate, FindingOut, LayerOut, PackageOut
from shieldwall.api.stored_result import stored_result
from shieldwall.errors import InputError
from shieldwall.report.html import render_html
from shieldwall.store.queries import list_assets, set_environment, set_golden

router = APIRouter(tags=["assets"])


@router.get("/assets", response_model=list[AssetOut])
def get_assets(
    request: Request,
    who: Viewer,
    environment: Annotated[str, Query(max_length=128)] = "",
    kind: Annotated[Literal["", "image", "host", "source", "sbom"], Query()] = "",
    repository: Annotated[str, Query(max_length=512)] = "",
    golden: bool | None = None,
    active_only: bool = False,
) -> list[AssetOut]:
    """Stored assets with their current tags, environment, package and open-finding counts."""
    views = list_assets(
        context(request).store,
        environment=environment,
        kind=kind,
        golden=golden,
        repository=repository,
        include_inactive=not active_only,
    )
    return [AssetOut.model_validate(v.to_dict()) for v in views]


@router.get("/assets/{asset_id}", response_model=AssetDetailOut, responses={**NOT_FOUND})
def get_asset(asset_id: IdPath, request: Request, who: Viewer) -> AssetDetailOut:
    """One asset: tags past and present, labels, OS, layers, recent scans, open findings by severity."""
    return AssetDetailOut.model_validate(queries.asset_detail(context(request).store, asset_id))


@router.patch("/assets/{asset_id}", response_model=AssetDetailOut, responses={**NOT_FOUND, **BAD_REQUEST})
def patch_asset(asset_id: IdPath, body: AssetUpdate, request: Request, who: Operator) -> AssetDetailOut:
    """Move an asset to an environment and/or set its golden flag; audited."""
    store = context(request).store
    queries.asset_detail(store, asset_id, scans=0)
    try:
        if body.environment is not None:
            set_environment(store, str(asset_id), body.environment.strip(), actor=who.actor)
        if body.golden_reset:
            set_golden(store, str(asset_id), None, actor=who.actor)
        elif body.golden is not None:
            set_golden(store, str(asset_id), body.golden, actor=who.actor)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return AssetDetailOut.model_validate(queries.asset_detail(store, asset_id))


@router.get("/assets/{asset_id}/packages", response_model=list[PackageOut], responses={**NOT_FOUND})
def get_packages(
    asset_id: IdPath,
    request: Request,
    who: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> list[PackageOut]:
    """The asset's inventory, by layer, with the layer that introduced each package."""
    packages = queries.asset_packages(context(request).store, asset_id, q=q, limit=limit)
    return [PackageOut.model_validate(p) for p in packages]


@router.get("/assets/{asset_id}/layers", response_model=list[LayerOut], responses={**NOT_FOUND})
def get_layers(asset_id: IdPath, request: Request, who: Viewer) -> list[LayerOut]:
    """Each layer with its instruction and the packages and current findings it introduced."""
    return [LayerOut.model_validate(v) for v in queries.asset_layers(context(request).store, asset_id)]


@router.get("/assets/{asset_id}/drift", response_model=list[FindingOut], responses={**NOT_FOUND})
def get_drift(asset_id: IdPath, request: Request, who: Viewer) -> list[FindingOut]:
    """What changed when a tag moved to this image: packages, user, ports, env, configuration."""
    store = context(request).store
    queries.asset_detail(store, asset_id, scans=0)
    return [FindingOut.model_validate(v) for v in queries.scan_drift(store, asset_id)]


@router.get(
    "/assets/{asset_id}/report.html",
    response_class=HTMLResponse,
    responses=html_responses("The self-contained HTML report"),
)
def get_report(asset_id: IdPath, request: Request, who: Viewer) -> HTMLResponse:
    """The asset's current state as Shieldwall's self-contained HTML report."""
    result = stored_result(context(request).store, asset_id)
    return HTMLResponse(render_html(result), headers=_download(f"shieldwall-asset-{asset_id}.html"))


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
