"""Dashboard pages: Overview, Assets, Findings, Compliance, Audit; log-in with an API token.

Server-rendered (Jinja2, autoescaped); the only JavaScript is ``static/app.js``
(filtering a table, confirming a revocation). A session cookie (HttpOnly,
SameSite=Strict, Secure behind TLS) names a server-side session; every form
carries the session's CSRF token, and a POST whose ``Origin`` is another site
is refused. The pages read the same functions as the API, so their numbers
are the API's numbers.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from shieldwall import __version__
from shieldwall.api import queries
from shieldwall.api.auth import check_rate
from shieldwall.api.compliance_html import render_compliance_html
from shieldwall.api.context import AppContext, context
from shieldwall.api.dashboard.asset_links import asset_page_data, display_names, grouped_findings_page
from shieldwall.api.dashboard.charts import COLOURS, bar_chart, trend_chart
from shieldwall.api.dashboard.timefmt import ago
from shieldwall.api.routes.admin import db_status
from shieldwall.api.routes.common import MAX_ID, IdPath
from shieldwall.api.routes.findings import create_exception, finding_filter
from shieldwall.api.schemas import ExceptionCreate
from shieldwall.api.sessions import COOKIE, LOGIN_CSRF_COOKIE, Session, csrf_ok
from shieldwall.api.stored_result import compliance_for_asset, stored_result
from shieldwall.api.tokens import Role, TokenRecord, authenticate, get_token
from shieldwall.errors import InputError
from shieldwall.misconfig.compliance import Status, framework_ids, load_framework
from shieldwall.report.html import render_html
from shieldwall.store.audit import export_text, verify
from shieldwall.store.queries import count_assets, list_assets, revoke_exception

router = APIRouter(include_in_schema=False)

SEVERITIES = list(queries.SEVERITY_ORDER)
KINDS = ["vulnerability", "secret", "sensitive-file", "malware", "misconfig", "license", "drift"]
STATUSES = ["active", "open", "reopened", "suppressed", "fixed", "not-applicable"]
PAGE = 50


class LoginRequiredError(Exception):
    """No valid session: send the browser to the log-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("shieldwall.api.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(version=__version__, colours=COLOURS, severities=SEVERITIES, kinds=KINDS)
    env.filters["age"] = _age
    env.filters["ago"] = ago  # "3 h ago" with the exact time on hover (dashboard/timefmt.py)
    env.filters["short"] = lambda text, n=16: text if len(str(text)) <= n else str(text)[: n - 1] + "…"
    return env


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(seconds, 0) / 60:.0f} minutes"


TEMPLATES = _environment()


class Viewer:
    """The logged-in user of a page: the session and the token record."""

    def __init__(self, session: Session, token: TokenRecord) -> None:
        self.session = session
        self.token = token

    @property
    def can_operate(self) -> bool:
        """Operator or admin."""
        return self.token.role.allows(Role.OPERATOR)


def _viewer(request: Request, ctx: AppContext) -> Viewer:
    session = ctx.sessions.get(request.cookies.get(COOKIE, ""))
    token = get_token(ctx.store, session.token_id) if session is not None else None
    if session is None or token is None or not token.active:
        if session is not None:
            ctx.sessions.drop(session.id)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(path)
    check_rate(ctx, token)
    return Viewer(session, token)


def _render(request: Request, name: str, viewer: Viewer | None, code: int = 200, **data: Any) -> HTMLResponse:
    html = TEMPLATES.get_template(name).render(
        request=request,
        user=viewer.token if viewer else None,
        csrf=viewer.session.csrf if viewer else "",
        can_operate=viewer.can_operate if viewer else False,
        path=request.url.path,
        **data,
    )
    return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urllib.parse.urlsplit(origin).netloc == host


def _check_post(request: Request, viewer: Viewer, csrf: str) -> None:
    if not _same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    if not csrf_ok(viewer.session.csrf, csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


# -- log-in / log-out ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    """The log-in form (a fresh double-submit CSRF cookie for it)."""
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html.j2", None, login_csrf=token, next=_safe_next(next), error="")
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the token; on success start a session and go where the user was going."""
    ctx = context(request)
    if not _same_origin(request) or not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf):
        return RedirectResponse("/login", status_code=303)  # a fresh form with a fresh CSRF cookie
    record = authenticate(ctx.store, token)
    if record is None:
        return _render(
            request,
            "login.html.j2",
            None,
            401,
            login_csrf=csrf,
            next=_safe_next(next),
            error="Invalid or revoked token.",
        )
    check_rate(ctx, record)
    session = ctx.sessions.create(record.id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(request, response, COOKIE, session.id, max_age=int(ctx.sessions.lifetime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    ctx.sessions.drop(viewer.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    ctx = context(request)
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=ctx.settings.secure_cookies or request.url.scheme == "https",
    )


# -- overview ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> Response:
    """Assets by environment, open findings by severity and kind with their trend, rematches, database, alerts."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    status = db_status(ctx)
    data = queries.overview(ctx.store, status)
    return _render(
        request,
        "overview.html.j2",
        viewer,
        o=data,
        db=status,
        severity_chart=bar_chart(data.open_by_severity, COLOURS),
        kind_chart=bar_chart(data.open_by_kind, label_width=120),
        trend=trend_chart(data.trend),
    )


# -- assets --------------------------------------------------------------------------------------


@router.get("/assets", response_class=HTMLResponse)
def assets_page(
    request: Request,
    environment: Annotated[str, Query(max_length=128)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Assets with their tags, environment and counts, newest first, 50 a page."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    total = count_assets(ctx.store, environment=environment, kind=kind)
    pages = max(1, -(-total // PAGE))
    page = min(page, pages)
    shown = list_assets(ctx.store, environment=environment, kind=kind, limit=PAGE, offset=(page - 1) * PAGE)
    query = urllib.parse.urlencode([(k, v) for k, v in (("environment", environment), ("kind", kind)) if v])
    return _render(
        request,
        "assets.html.j2",
        viewer,
        assets=shown,
        total=total,
        page=page,
        pages=pages,
        prev_url=f"/assets?{query}&page={page - 1}" if page > 1 else "",
        next_url=f"/assets?{query}&page={page + 1}" if page < pages else "",
        names=display_names(ctx.store, [v.id for v in shown]),
        environment=environment,
        kind=kind,
        environments=queries.environments(ctx.store),
    )


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(
    request: Request,
    asset_id: IdPath,
    pkg_q: Annotated[str, Query(max_length=200)] = "",
    pkg_page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    layer: Annotated[int | None, Query(ge=-1, le=10_000)] = None,
    f_page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    f_status: Annotated[str, Query(max_length=16)] = "active",
) -> Response:
    """One asset in bounded pieces (``api/insights/asset_page``): layer counts, a page of grouped findings,
    a page of inventory, drift, scan history; what the last scan did not evaluate is shown as such."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    asset = _get(lambda: queries.asset_detail(ctx.store, asset_id))
    data = asset_page_data(
        ctx.store, asset, pkg_q=pkg_q, pkg_page=pkg_page, layer=layer, f_page=f_page, f_status=f_status
    )
    return _render(
        request,
        "asset.html.j2",
        viewer,
        asset=asset,
        drift=queries.scan_drift(ctx.store, asset_id)[:20],
        severity_chart=bar_chart(
            {s: asset.findings_by_severity.get(s, 0) for s in SEVERITIES}, COLOURS, width=320, label_width=90
        ),
        **data,
    )


@router.get("/assets/{asset_id}/report.html")
def asset_report(request: Request, asset_id: IdPath) -> Response:
    """The asset's HTML report (as ``GET /api/v1/assets/{id}/report.html``)."""
    ctx = context(request)
    _viewer(request, ctx)
    result = _get(lambda: stored_result(ctx.store, asset_id))
    return HTMLResponse(
        render_html(result), headers={"Content-Disposition": f'attachment; filename="shieldwall-asset-{asset_id}.html"'}
    )


def _get(load: Any) -> Any:
    try:
        return load()
    except queries.NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


# -- findings ------------------------------------------------------------------------------------


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    severity: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    kind: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=32)] = "active",
    asset_id: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=20)] = "severity",
    cursor: Annotated[str, Query(max_length=512)] = "",
    group: Annotated[str, Query(max_length=16)] = "",
    gpage: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Filter and search findings; one page at a time (``group=files``: one row per finding found in many files)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    chosen = [s for s in severity if s in SEVERITIES]
    kinds = [kind] if kind in KINDS else []
    statuses = [status] if status in STATUSES else []
    asset = int(asset_id) if asset_id.isdigit() and 0 < int(asset_id) <= MAX_ID else None
    order = sort if sort in ("severity", "last_seen", "first_seen") else "severity"
    filt = finding_filter(chosen, kinds, statuses, asset, "", "", q)
    try:
        page = queries.page_findings(ctx.store, filt, sort=queries.FindingSort(order), limit=PAGE, cursor=cursor)
    except InputError:
        page = queries.page_findings(ctx.store, filt, sort=queries.FindingSort(order), limit=PAGE)
    params = [("severity", s) for s in chosen] + [
        (k, v) for k, v in (("kind", kind), ("status", status), ("asset_id", asset_id), ("q", q), ("sort", order)) if v
    ]
    base = urllib.parse.urlencode(params)
    if group == "files":
        return grouped_findings_page(request, viewer, filt, base, gpage)
    return _render(
        request,
        "findings.html.j2",
        viewer,
        page=page,
        names=display_names(ctx.store, {f.asset_id for f in page.items}),
        total=queries.count_findings(ctx.store, filt),
        chosen=chosen,
        kind=kind,
        status=status,
        statuses=STATUSES,
        asset_id=asset_id,
        assets=queries.asset_choices(ctx.store),
        q=q,
        sort=order,
        next_url=f"/findings?{base}&cursor={page.next_cursor}" if page.next_cursor else "",
        first_url=f"/findings?{base}" if cursor else "",
    )


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(request: Request, finding_id: IdPath, error: str = "", done: str = "") -> Response:
    """One finding: evidence, fix, exception history, VEX status; the exception form for operators."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    detail = _get(lambda: queries.finding_detail(ctx.store, finding_id))
    default_expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(days=90)).date().isoformat()
    return _render(
        request,
        "finding.html.j2",
        viewer,
        f=detail,
        v=detail.view,
        default_expiry=default_expiry,
        error=error[:300],
        done=done[:300],
    )


@router.post("/findings/{finding_id}/exceptions")
def finding_exception(
    request: Request,
    finding_id: IdPath,
    reason: Annotated[str, Form(max_length=4000)] = "",
    expires: Annotated[str, Form(max_length=32)] = "",
    scope: Annotated[str, Form(max_length=16)] = "finding",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an exception from the finding page (operator role); back to the finding."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    if not viewer.can_operate:
        raise HTTPException(403, "creating exceptions needs the operator role")
    detail = _get(lambda: queries.finding_detail(ctx.store, finding_id))
    try:
        expiry = _parse_expiry(expires)
        if scope == "rule":
            body = ExceptionCreate(reason=reason, expires_at=expiry, rule_id=detail.view.rule_id)
        elif scope == "rule-asset":
            body = ExceptionCreate(
                reason=reason, expires_at=expiry, rule_id=detail.view.rule_id, asset_id=detail.view.asset_id
            )
        else:
            body = ExceptionCreate(reason=reason, expires_at=expiry, finding_id=finding_id)
        new_id = create_exception(ctx.store, body, viewer.token.actor)
    except (InputError, ValidationError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        return RedirectResponse(f"/findings/{finding_id}?{urllib.parse.urlencode({'error': message})}", 303)
    done = urllib.parse.urlencode({"done": f"exception #{new_id} created"})
    return RedirectResponse(f"/findings/{finding_id}?{done}", status_code=303)


def _parse_expiry(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date: {text!r} (YYYY-MM-DD)") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


@router.post("/exceptions/{exception_id}/revoke")
def exception_revoke(
    request: Request,
    exception_id: IdPath,
    csrf: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/findings",
) -> Response:
    """Revoke an exception (operator role)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    if not viewer.can_operate:
        raise HTTPException(403, "revoking exceptions needs the operator role")
    try:
        revoke_exception(ctx.store, exception_id, actor=viewer.token.actor)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(_safe_next(back), status_code=303)


# -- compliance ----------------------------------------------------------------------------------


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(
    request: Request,
    framework: Annotated[str, Query(max_length=64)] = "",
    asset_id: Annotated[str, Query(max_length=20)] = "",
    show: Annotated[str, Query(max_length=16)] = "applicable",
) -> Response:
    """Per framework and control: pass or fail with the findings behind it; exportable as HTML."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    frameworks = [load_framework(f) for f in framework_ids()]
    choices = queries.asset_choices(ctx.store)
    default = next((f.id for f in frameworks if f.id.startswith("cis-docker")), frameworks[0].id if frameworks else "")
    fw = framework if framework in framework_ids() else default
    chosen = int(asset_id) if asset_id.isdigit() and 0 < int(asset_id) <= MAX_ID else (choices[0][0] if choices else 0)
    report = None
    if fw and chosen:
        report = _get(lambda: compliance_for_asset(ctx.store, fw, chosen))
    return _render(
        request,
        "compliance.html.j2",
        viewer,
        frameworks=frameworks,
        framework=fw,
        assets=choices,
        asset_id=chosen,
        report=report,
        show=show,
        Status=Status,
    )


@router.get("/compliance/{framework}/export.html")
def compliance_export(request: Request, framework: str, asset_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> Response:
    """The compliance report as the self-contained HTML file."""
    ctx = context(request)
    _viewer(request, ctx)
    if framework not in framework_ids():
        raise HTTPException(404, f"unknown framework {framework!r}")
    report = _get(lambda: compliance_for_asset(ctx.store, framework, asset_id))
    return HTMLResponse(
        render_compliance_html(report),
        headers={"Content-Disposition": f'attachment; filename="compliance-{framework}-asset-{asset_id}.html"'},
    )


# -- audit ---------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    before: Annotated[str, Query(max_length=20)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The trail, newest first, with the verification status of the whole chain."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    start = int(before) if before.isdigit() and 0 < int(before) <= MAX_ID else None
    page = queries.audit_page(ctx.store, limit=PAGE, before=start, action=action)
    report = verify(ctx.store)
    query = urllib.parse.urlencode({"action": action} if action else {})
    return _render(
        request,
        "audit.html.j2",
        viewer,
        page=page,
        report=report,
        action=action,
        next_url=f"/audit?{query}&before={page.next_cursor}" if page.next_cursor else "",
    )


@router.get("/audit/export.{fmt}")
def audit_export(request: Request, fmt: str) -> Response:
    """The whole trail as JSON Lines or CSV."""
    ctx = context(request)
    _viewer(request, ctx)
    if fmt not in ("jsonl", "csv"):
        raise HTTPException(404, "export as .jsonl or .csv")
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    chunks = (c.encode() for c in export_text(ctx.store, fmt))
    return StreamingResponse(
        chunks, media_type=media, headers={"Content-Disposition": f'attachment; filename="shieldwall-audit.{fmt}"'}
    )


def install(app: FastAPI) -> None:
    """Add the pages, the static files and the log-in redirect to ``app``."""

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        target = "/login?" + urllib.parse.urlencode({"next": _safe_next(exc.next_path)})
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(LoginRequiredError, to_login)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
