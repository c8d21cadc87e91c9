"""Bounded pieces of the asset page and of the grouped findings list, and the links between their pages."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from shieldwall.api.context import context
from shieldwall.api.insights import asset_page as pieces
from shieldwall.api.insights.finding_groups import grouped_findings
from shieldwall.api.insights.names import names_by_id
from shieldwall.api.queries import ACTIVE, AssetDetail, FindingFilter, count_findings
from shieldwall.store import Store


def asset_page_data(
    store: Store, asset: AssetDetail, *, pkg_q: str, pkg_page: int, layer: int | None, f_page: int, f_status: str
) -> dict[str, Any]:
    """Template values: display name, layer counts, one page of grouped findings and of packages, pager links."""
    f_status = f_status if f_status in ("active", "all") else "active"
    groups = pieces.findings_page(
        store, asset.id, statuses=ACTIVE if f_status == "active" else (), layer=layer, page=f_page
    )
    packages = pieces.packages_page(store, asset.id, q=pkg_q, layer=layer, page=pkg_page)
    with store.session() as session:
        name = names_by_id(session, [asset.id]).get(asset.id)
    state = {"pkg_q": pkg_q, "pkg_page": str(packages.page), "f_page": str(groups.page), "f_status": f_status}
    if layer is not None:
        state["layer"] = str(layer)

    def link(anchor: str, **changes: str) -> str:
        values = {k: v for k, v in {**state, **changes}.items() if v and not (k == "f_status" and v == "active")}
        values = {k: v for k, v in values.items() if not (k.endswith("_page") and v == "1")}
        query = urllib.parse.urlencode(values)
        return f"/assets/{asset.id}" + (f"?{query}" if query else "") + f"#{anchor}"

    return {
        "display": name,
        "gap": pieces.not_evaluated(store, asset.id),
        "layers": pieces.layer_summaries(store, asset.id),
        "groups": groups,
        "packages": packages,
        "pkg_q": pkg_q,
        "layer": layer,
        "f_status": f_status,
        "links": {
            "f_prev": link("findings", f_page=str(groups.page - 1)) if groups.page > 1 else "",
            "f_next": link("findings", f_page=str(groups.page + 1)) if groups.page < groups.pages else "",
            "p_prev": link("inventory", pkg_page=str(packages.page - 1)) if packages.page > 1 else "",
            "p_next": link("inventory", pkg_page=str(packages.page + 1)) if packages.page < packages.pages else "",
            "all_layers": link("layers", layer="", f_page="1", pkg_page="1"),
            "f_all": link("findings", f_status="all", f_page="1"),
            "f_active": link("findings", f_status="active", f_page="1"),
        },
        "layer_link": lambda index: link("findings", layer=str(index), f_page="1", pkg_page="1"),
    }


def display_names(store: Store, asset_ids: Any) -> dict[int, Any]:
    """``AssetName`` (``registry/repo:tag`` and digest) of each asset ID, for templates."""
    with store.session() as session:
        return dict(names_by_id(session, asset_ids))


def grouped_findings_page(request: Request, viewer: Any, filt: FindingFilter, base: str, page: int) -> Response:
    """``/findings?group=files``: the same filters, one row per finding found in several files."""
    from shieldwall.api.dashboard.views import _render

    ctx = context(request)
    groups = grouped_findings(ctx.store, filt, page=page)
    link = f"/findings?{base}&group=files&gpage="
    return _render(
        request,
        "findings_grouped.html.j2",
        viewer,
        groups=groups,
        total=count_findings(ctx.store, filt),
        names=display_names(ctx.store, {g.asset_id for g in groups.items}),
        ungrouped_url=f"/findings?{base}",
        prev_url=f"{link}{groups.page - 1}" if groups.page > 1 else "",
        next_url=f"{link}{groups.page + 1}" if groups.page < groups.pages else "",
    )
