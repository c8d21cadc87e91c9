"""Dashboard pages for working from the browser: start scans, follow jobs, watched registries, tokens, report previews.

Every action calls the API's own handler or service function with the
session's token as the caller (``Principal``), so the API's role matrix,
limits and egress policy apply unchanged: a registry scan and an upload go
through ``routes/scans.py`` and ``api/jobs.py`` (server egress policy, upload
size limit, format sniffing); registries through the audited monitor
configuration; tokens through ``api/tokens.py``. Every POST carries the
session's CSRF token and passes the same-origin check of ``views.py``. A new
token is shown once, in the response to the form that created it (never in
a URL, never again).
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from shieldwall.api.auth import Principal
from shieldwall.api.context import context
from shieldwall.api.dashboard.nav import add_nav
from shieldwall.api.dashboard.views import Viewer, _check_post, _get, _render, _viewer
from shieldwall.api.headers import DASHBOARD_CSP
from shieldwall.api.routes.admin import delete_registry, get_registries, post_registry
from shieldwall.api.routes.common import IdPath
from shieldwall.api.routes.registry_edit import replace_registry
from shieldwall.api.routes.scans import submit_scan, upload_scan
from shieldwall.api.schemas import RegistryIn, ScanSubmit
from shieldwall.api.stored_result import stored_result
from shieldwall.api.tokens import Role, create_token, list_tokens, parse_role, revoke_token
from shieldwall.errors import InputError
from shieldwall.report.html import render_html
from shieldwall.report.sarif import render_sarif, sarif_document

router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/actions/upload"
JOBS_SHOWN = 50
PREVIEW_CSP = (  # the report's own script runs in an opaque origin: no cookie, no access to the dashboard
    "sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'self'"
)
PAGE_WITH_FRAME_CSP = DASHBOARD_CSP + "; frame-src 'self'"
PAGE_WITH_POLL_CSP = DASHBOARD_CSP + "; connect-src 'self'"


def _need(viewer: Viewer, role: Role) -> None:
    if not viewer.token.role.allows(role):
        raise HTTPException(403, f"this action needs the {role} role; you are {viewer.token.role}")


def _poster(request: Request, csrf: str, role: Role) -> tuple[Any, Viewer]:
    """The context and viewer of a form POST: signed in, CSRF token and origin checked, ``role`` or above."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    _need(viewer, role)
    return ctx, viewer


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc)


def _back(path: str, **values: str) -> RedirectResponse:
    query = urllib.parse.urlencode({k: v[:300] for k, v in values.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


# -- scans and jobs -------------------------------------------------------------------------------


@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, error: str = "", done: str = "") -> Response:
    """Start a scan (registry image or upload) and follow the jobs."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    response = _render(
        request,
        "actions.html.j2",
        viewer,
        jobs=[j.to_dict() for j in ctx.jobs.list(JOBS_SHOWN)],
        error=error[:300],
        done=done[:300],
        max_upload_mib=ctx.settings.max_upload_bytes // (1024 * 1024),
    )
    response.headers["content-security-policy"] = PAGE_WITH_POLL_CSP
    return response


@router.get("/actions/jobs.json")
def jobs_json(request: Request) -> Response:
    """The newest jobs as JSON for the page's polling (same fields as ``GET /api/v1/jobs``)."""
    ctx = context(request)
    _viewer(request, ctx)
    jobs = [j.to_dict() for j in ctx.jobs.list(JOBS_SHOWN)]
    for job in jobs:
        job.pop("webhook_url", None)
    return JSONResponse({"jobs": jobs}, headers={"Cache-Control": "no-store"})


@router.post("/actions/scan")
def start_registry_scan(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    image: Annotated[str, Form(max_length=512)] = "",
    environment: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Queue a scan of a registry image (operator) through ``POST /api/v1/scans``'s handler."""
    _, viewer = _poster(request, csrf, Role.OPERATOR)
    try:
        body = ScanSubmit(image=image.strip(), environment=environment.strip())
        job = submit_scan(body, request, Principal(viewer.token))
    except (ValidationError, HTTPException) as exc:
        return _back("/actions", error=_message(exc))
    return _back("/actions", done=f"job {job.id} queued: {job.target}")


@router.post(UPLOAD_PATH)
def start_upload_scan(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=8)] = "image",
    environment: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Queue a scan of an uploaded image archive or SBOM (operator) through ``POST /api/v1/scans/upload``'s handler."""
    _, viewer = _poster(request, csrf, Role.OPERATOR)
    if kind not in ("image", "sbom"):
        return _back("/actions", error="choose an image archive or an SBOM")
    try:
        job = upload_scan(request, Principal(viewer.token), file, kind, environment.strip(), "", "")  # type: ignore[arg-type]
    except HTTPException as exc:
        return _back("/actions", error=_message(exc))
    return _back("/actions", done=f"job {job.id} queued: {job.target}")


# -- watched registries ---------------------------------------------------------------------------


def _registry_body(
    name: str, url: str, repositories: str, tags: str, environment: str, insecure: str, anonymous: str
) -> RegistryIn:
    def globs(text: str) -> list[str]:
        return [g for g in (part.strip() for part in text.replace("\n", ",").split(",")) if g] or ["*"]

    return RegistryIn(
        name=name.strip(),
        url=url.strip(),
        repositories=globs(repositories),
        tags=globs(tags),
        environment=environment.strip(),
        insecure=insecure == "on",
        anonymous=anonymous == "on",
    )


@router.get("/actions/registries", response_class=HTMLResponse)
def registries_page(request: Request, error: str = "", done: str = "", edit: str = "") -> Response:
    """Watched registries; admins add, edit and remove them."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    registries = get_registries(request, Principal(viewer.token))
    editing = next((r for r in registries if r.name == edit), None)
    return _render(
        request,
        "registries.html.j2",
        viewer,
        registries=registries,
        editing=editing,
        is_admin=viewer.token.role.allows(Role.ADMIN),
        error=error[:300],
        done=done[:300],
    )


@router.post("/actions/registries")
def save_registry(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    original: Annotated[str, Form(max_length=255)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    url: Annotated[str, Form(max_length=255)] = "",
    repositories: Annotated[str, Form(max_length=8000)] = "*",
    tags: Annotated[str, Form(max_length=8000)] = "*",
    environment: Annotated[str, Form(max_length=128)] = "",
    insecure: Annotated[str, Form(max_length=4)] = "",
    anonymous: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Add a registry, or replace ``original`` with the form's values (admin); audited."""
    ctx, viewer = _poster(request, csrf, Role.ADMIN)
    who = Principal(viewer.token)
    try:
        body = _registry_body(name, url, repositories, tags, environment, insecure, anonymous)
        saved = replace_registry(ctx, original, body, who) if original else post_registry(body, request, who)
    except (ValidationError, HTTPException) as exc:
        return _back("/actions/registries", error=_message(exc), edit=original)
    return _back("/actions/registries", done=f"registry {saved.name} saved")


@router.post("/actions/registries/remove")
def remove_registry(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(min_length=1, max_length=255)] = "",
) -> Response:
    """Stop watching a registry (admin); audited."""
    _, viewer = _poster(request, csrf, Role.ADMIN)
    try:
        delete_registry(name, request, Principal(viewer.token))
    except HTTPException as exc:
        return _back("/actions/registries", error=_message(exc))
    return _back("/actions/registries", done=f"registry {name} removed")


# -- tokens (admin) -------------------------------------------------------------------------------


def _tokens_page(request: Request, viewer: Viewer, *, created: Any = None, error: str = "", done: str = "") -> Response:
    ctx = context(request)
    return _render(
        request,
        "tokens.html.j2",
        viewer,
        tokens=list_tokens(ctx.store),
        created=created,
        roles=[str(r) for r in Role],
        error=error[:300],
        done=done[:300],
    )


@router.get("/actions/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, error: str = "", done: str = "") -> Response:
    """API tokens (admin only, as ``GET /api/v1/tokens``): never a secret, revoked ones included."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _need(viewer, Role.ADMIN)
    return _tokens_page(request, viewer, error=error, done=done)


@router.post("/actions/tokens", response_class=HTMLResponse)
def make_token(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
) -> Response:
    """Create a token (admin); its secret is in this response only, never stored or shown again."""
    ctx, viewer = _poster(request, csrf, Role.ADMIN)
    try:
        created = create_token(ctx.store, name, parse_role(role), actor=viewer.token.actor)
    except InputError as exc:
        return _back("/actions/tokens", error=str(exc))
    return _tokens_page(request, viewer, created=created)


@router.post("/actions/tokens/{token_id}/revoke")
def revoke(
    request: Request,
    token_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{12}$")],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke a token (admin): it and the dashboard sessions made with it stop working at once."""
    ctx, viewer = _poster(request, csrf, Role.ADMIN)
    try:
        record = revoke_token(ctx.store, token_id, actor=viewer.token.actor)
    except InputError as exc:
        return _back("/actions/tokens", error=str(exc))
    return _back("/actions/tokens", done=f"token {record.name} revoked")


# -- report previews ------------------------------------------------------------------------------


def sarif_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What a SARIF log holds: the tool, results by level, and the rules with the most results."""
    runs = doc.get("runs") or []
    levels: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    tool = ""
    rule_count = 0
    for run in runs:
        driver = (run.get("tool") or {}).get("driver") or {}
        tool = tool or f"{driver.get('name', '')} {driver.get('version', '')}".strip()
        rule_count += len(driver.get("rules") or [])
        for result in run.get("results") or []:
            levels[str(result.get("level", "warning"))] += 1
            rules[str(result.get("ruleId", ""))] += 1
    return {
        "version": doc.get("version", ""),
        "tool": tool,
        "runs": len(runs),
        "results": sum(levels.values()),
        "levels": {level: levels.get(level, 0) for level in ("error", "warning", "note", "none")},
        "rules": rule_count,
        "top_rules": rules.most_common(10),
    }


@router.get("/assets/{asset_id}/preview", response_class=HTMLResponse)
def preview_page(request: Request, asset_id: IdPath) -> Response:
    """The HTML report in a sandboxed frame and a SARIF summary, with both downloads."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    result = _get(lambda: stored_result(ctx.store, asset_id))
    summary = sarif_summary(sarif_document(result))
    response = _render(request, "preview.html.j2", viewer, asset_id=asset_id, target=result.target, sarif=summary)
    response.headers["content-security-policy"] = PAGE_WITH_FRAME_CSP
    return response


@router.get("/assets/{asset_id}/report-preview.html")
def report_preview(request: Request, asset_id: IdPath) -> Response:
    """The HTML report inline for the preview frame: sandboxed (no script runs), framable by this site only."""
    ctx = context(request)
    _viewer(request, ctx)
    result = _get(lambda: stored_result(ctx.store, asset_id))
    return HTMLResponse(
        render_html(result),
        headers={
            "content-security-policy": PREVIEW_CSP,
            "x-frame-options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


@router.get("/assets/{asset_id}/report.sarif")
def report_sarif(request: Request, asset_id: IdPath) -> Response:
    """The asset's current state as SARIF 2.1.0 (a download)."""
    ctx = context(request)
    _viewer(request, ctx)
    result = _get(lambda: stored_result(ctx.store, asset_id))
    return Response(
        render_sarif(result),
        media_type="application/sarif+json",
        headers={"Content-Disposition": f'attachment; filename="shieldwall-asset-{asset_id}.sarif"'},
    )


def install(app: FastAPI) -> None:
    """Add the pages and their navigation entries (after ``views.install``)."""
    add_nav("/actions", "Scans & jobs")
    app.include_router(router)


__all__ = ["UPLOAD_PATH", "install", "sarif_summary"]
