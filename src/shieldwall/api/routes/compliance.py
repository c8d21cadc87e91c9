"""Compliance: per framework and asset, each control's pass/fail with the findings behind it; HTML export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from shieldwall.api.auth import Viewer
from shieldwall.api.compliance_html import render_compliance_html
from shieldwall.api.context import context
from shieldwall.api.routes.common import MAX_ID, NOT_FOUND, html_responses
from shieldwall.api.schemas import ComplianceOut, FrameworkOut
from shieldwall.api.stored_result import compliance_for_asset
from shieldwall.errors import ConfigError
from shieldwall.misconfig.compliance import ComplianceReport, Status, framework_ids, load_framework
from shieldwall.model import Finding

router = APIRouter(tags=["compliance"])

FrameworkId = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
AssetParam = Annotated[int, Query(ge=1, le=MAX_ID, description="The asset to evaluate")]


@router.get("/compliance/frameworks", response_model=list[FrameworkOut])
def list_frameworks(request: Request, who: Viewer) -> list[FrameworkOut]:
    """The bundled frameworks (CIS Docker and Kubernetes, PSS, NSA/CISA, NIST 800-190, PCI DSS)."""
    out = []
    for fid in framework_ids():
        fw = load_framework(fid)
        out.append(FrameworkOut(id=fw.id, title=fw.title, version=fw.version, controls=len(fw.controls)))
    return out


def evaluate_for(request: Request, framework: str, asset_id: int) -> ComplianceReport:
    """A framework evaluated against an asset; 404 for an unknown framework or asset."""
    if framework not in framework_ids():
        raise HTTPException(404, f"unknown framework {framework!r} (available: {', '.join(framework_ids())})")
    try:
        return compliance_for_asset(context(request).store, framework, asset_id)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None


def compliance_out(report: ComplianceReport, asset_id: int) -> ComplianceOut:
    """The JSON body of a compliance report."""

    def finding(f: Finding) -> dict[str, object]:
        return {
            "rule_id": f.rule_id,
            "severity": str(f.severity),
            "title": f.title,
            "message": f.message,
            "path": f.location.path if f.location else "",
            "line": f.location.line if f.location else None,
        }

    fw = report.framework
    return ComplianceOut.model_validate(
        {
            "framework": {"id": fw.id, "title": fw.title, "version": fw.version, "controls": len(fw.controls)},
            "asset_id": asset_id,
            "target": report.target,
            "passed": report.count(Status.PASS),
            "failed": report.count(Status.FAIL),
            "error": report.count(Status.ERROR),
            "not_applicable": report.count(Status.NOT_APPLICABLE),
            "percent": report.percent,
            "controls": [
                {
                    "id": r.control.id,
                    "title": r.control.title,
                    "status": str(r.status),
                    "reason": r.reason,
                    "checks": list(r.control.checks),
                    "findings": [finding(f) for f in r.findings],
                    "suppressed": [finding(f) for f in r.suppressed],
                }
                for r in report.results
            ],
        }
    )


@router.get("/compliance/{framework}", response_model=ComplianceOut, responses={**NOT_FOUND})
def get_compliance(framework: FrameworkId, asset_id: AssetParam, request: Request, who: Viewer) -> ComplianceOut:
    """Each control of the framework for the asset's stored state: pass, fail (with findings) or not applicable."""
    return compliance_out(evaluate_for(request, framework, asset_id), asset_id)


@router.get(
    "/compliance/{framework}/report.html",
    response_class=HTMLResponse,
    responses=html_responses("A self-contained HTML report"),
)
def get_compliance_html(framework: FrameworkId, asset_id: AssetParam, request: Request, who: Viewer) -> HTMLResponse:
    """The compliance report as one self-contained HTML file (same look as the scan report; prints well)."""
    report = evaluate_for(request, framework, asset_id)
    return HTMLResponse(
        render_compliance_html(report),
        headers={"Content-Disposition": f'attachment; filename="compliance-{framework}-asset-{asset_id}.html"'},
    )
