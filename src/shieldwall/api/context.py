"""What every request handler needs, built once per app: the store, settings, limiter, jobs, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from shieldwall.api.jobs import JobManager
from shieldwall.api.metrics import ApiMetrics
from shieldwall.api.ratelimit import RateLimiter
from shieldwall.api.sessions import SessionStore
from shieldwall.api.settings import ApiSettings
from shieldwall.store import Store


@dataclass(frozen=True, slots=True)
class AppContext:
    """The app's wiring (kept on ``app.state.ctx``)."""

    store: Store
    settings: ApiSettings
    limiter: RateLimiter
    jobs: JobManager
    metrics: ApiMetrics
    vulndb_path: Path
    sessions: SessionStore


def context(request: Request) -> AppContext:
    """The ``AppContext`` of the app serving ``request``."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx
