"""The FastAPI application: the REST API under ``/api/v1``, ``/metrics``, ``/health`` and the dashboard.

``create_app(store, settings)`` wires everything explicitly; ``shieldwall
serve`` runs it on uvicorn. Every route but ``/health`` needs an API token
(the dashboard's pages a session made from one).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from shieldwall import __version__
from shieldwall.api.auth import Viewer
from shieldwall.api.bodylimit import BodySizeLimit
from shieldwall.api.context import AppContext
from shieldwall.api.guards import NulGuard
from shieldwall.api.headers import SecurityHeaders
from shieldwall.api.jobs import JobManager, ScanFunction
from shieldwall.api.metrics import CONTENT_TYPE, ApiMetrics, StoreCollector
from shieldwall.api.queries import NotFoundError
from shieldwall.api.ratelimit import RateLimiter
from shieldwall.api.routes import (
    admin,
    agent_protocol,
    agents,
    assets,
    audit,
    changes,
    compliance,
    decisions,
    fim,
    findings,
    insights,
    ips,
    registry_edit,
    scans,
    tasks,
    witness,
)
from shieldwall.api.routes.common import AUTH_ERRORS
from shieldwall.api.schemas import HealthOut
from shieldwall.api.sessions import SessionStore
from shieldwall.api.settings import ApiSettings
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.service.fleet.sweeper import FleetSweeper
from shieldwall.store import Store

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
UPLOAD_PATHS = (f"{API_PREFIX}/scans/upload", "/actions/upload")  # the dashboard upload: dashboard/actions.py
DESCRIPTION = """\
Shieldwall's REST API: submit scans (registry images, uploaded image archives and SBOMs) as asynchronous
jobs; read results by scan, asset and finding; manage exceptions; evaluate compliance frameworks; export and
verify the audit trail; update the advisory database; configure watched registries; manage API tokens.

Every endpoint except `/health` needs `Authorization: Bearer <token>` (create one with
`shieldwall token create --role viewer|operator|admin --name NAME`). Roles: **viewer** reads,
**operator** also scans and manages exceptions, **admin** also manages tokens, registries and the database.
Each token is rate limited (429 with `Retry-After`); request bodies are size limited (413).
"""


def create_app(
    store: Store,
    settings: ApiSettings | None = None,
    *,
    scan: ScanFunction | None = None,
    dashboard: bool = True,
) -> FastAPI:
    """The application over an opened store (the caller keeps and closes the store)."""
    settings = settings or ApiSettings()
    vulndb_path = settings.vulndb_path
    metrics = ApiMetrics()
    jobs = JobManager(store, settings, metrics, scan=scan, vulndb_path=vulndb_path)
    metrics.attach_store(StoreCollector(store, lambda: vulndb_path, jobs.queue_depth))
    ctx = AppContext(
        store=store,
        settings=settings,
        limiter=RateLimiter(settings.rate_per_minute, settings.burst),
        jobs=jobs,
        metrics=metrics,
        vulndb_path=vulndb_path,
        sessions=SessionStore(settings.session_hours * 3600),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs.recover()
        sweeper = FleetSweeper.from_environ(store)  # silent-agent alerts (service/fleet)
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            jobs.shutdown(wait=False)

    app = FastAPI(
        title="Shieldwall API",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    _install_handlers(app)

    api = APIRouter(prefix=API_PREFIX, responses=AUTH_ERRORS)
    for module in (
        scans,
        findings,
        assets,
        compliance,
        audit,
        admin,
        fim,
        tasks,
        ips,
        agents,
        agent_protocol,
        changes,
        decisions,
        registry_edit,
        witness,
    ):
        api.include_router(module.router)
    api.include_router(insights.router)  # exposure, components, vulnerabilities (dashboard: exposure pages)
    app.include_router(api)
    app.include_router(_service_router())
    if dashboard:
        from shieldwall.api.dashboard import fleet, views
        from shieldwall.api.dashboard import insights as insights_pages
        from shieldwall.api.dashboard import ips as ips_page

        views.install(app)
        fleet.install(app)
        ips_page.install(app)
        insights_pages.install(app)
        from shieldwall.api.dashboard import actions, changes_pages, decision_pages

        changes_pages.install(app)
        decision_pages.install(app)
        actions.install(app)

    app.add_middleware(SecurityHeaders)
    app.add_middleware(NulGuard)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        upload_paths=UPLOAD_PATHS,
    )
    return app


def _service_router() -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=HealthOut, tags=["service"])
    def health() -> HealthOut:
        """Liveness: the process answers (no token needed)."""
        return HealthOut(status="ok", version=__version__)

    @router.get(
        "/metrics",
        tags=["service"],
        responses={
            **AUTH_ERRORS,
            200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Prometheus exposition format"},
        },
    )
    def metrics(request: Request, who: Viewer) -> Response:
        """Prometheus metrics: scans, durations, open findings by severity and kind, database age, queue, alerts."""
        ctx: AppContext = request.app.state.ctx
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)

    @router.get(OPENAPI_PATH, include_in_schema=False)
    def openapi(request: Request, who: Viewer) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    return router


def _install_handlers(app: FastAPI) -> None:
    async def not_found(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def bad_input(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    async def unavailable(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    async def unstorable(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "the request holds a value the database cannot store"}, status_code=400)

    app.add_exception_handler(DataError, unstorable)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(InputError, bad_input)
    app.add_exception_handler(ShieldwallError, unavailable)


def openapi_document(app: FastAPI | None = None) -> dict[str, Any]:
    """The OpenAPI document (of a throw-away app over an in-memory store when none is given)."""
    if app is not None:
        return app.openapi()
    with Store.open("sqlite://", run_migrations=False) as store:
        return create_app(store, dashboard=False).openapi()
