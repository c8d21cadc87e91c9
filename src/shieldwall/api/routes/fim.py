"""Change windows for integrity monitoring: CI announces expected changes; events are classified against them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shieldwall.api.auth import Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.queries import NotFoundError
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath
from shieldwall.errors import InputError
from shieldwall.service import change_windows as cw

router = APIRouter(tags=["fim"])


class ChangeWindowIn(BaseModel):
    """A change the pipeline is about to make."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(min_length=1, max_length=128, examples=["prod"])
    host: str = Field(min_length=1, max_length=256, description="Host name glob", examples=["web-*"])
    path: str = Field(min_length=1, max_length=1024, description="Absolute path or glob", examples=["/srv/app"])
    deploy_id: str = Field(min_length=1, max_length=256, examples=["pipeline-1234"])
    duration_seconds: int = Field(ge=1, le=int(cw.MAX_WINDOW.total_seconds()), examples=[900])
    starts_at: dt.datetime | None = Field(default=None, description="Default: now")


class ChangeWindowOut(BaseModel):
    """A stored change window."""

    id: int
    environment: str
    host: str
    path: str
    deploy_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    created_by: str
    created_at: dt.datetime


class ClassifyIn(BaseModel):
    """One FIM event as the ingestion sees it."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=256)
    environment: str = Field(min_length=1, max_length=128)
    path: str = Field(min_length=1, max_length=4096)
    observed_at: dt.datetime


class ClassifyOut(BaseModel):
    """Expected (with the deploy and window) or unexpected."""

    expected: bool
    label: str
    deploy_id: str
    window_id: int | None


def _out(window: cw.ChangeWindow) -> ChangeWindowOut:
    return ChangeWindowOut(
        id=window.id,
        environment=window.environment,
        host=window.host_glob,
        path=window.path_glob,
        deploy_id=window.deploy_id,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        created_by=window.created_by,
        created_at=window.created_at,
    )


@router.post("/fim/windows", status_code=201, response_model=ChangeWindowOut, responses={**BAD_REQUEST})
def post_window(body: ChangeWindowIn, request: Request, who: Operator) -> ChangeWindowOut:
    """Open a change window (audited): matching FIM events inside it are tagged expected with the deploy ID."""
    window = cw.create_window(
        context(request).store,
        environment=body.environment,
        host_glob=body.host,
        path_glob=body.path,
        deploy_id=body.deploy_id,
        duration=dt.timedelta(seconds=body.duration_seconds),
        starts_at=body.starts_at,
        actor=who.actor,
    )
    return _out(window)


@router.get("/fim/windows", response_model=list[ChangeWindowOut])
def get_windows(
    request: Request,
    who: Viewer,
    environment: Annotated[str, Query(max_length=128)] = "",
    active: Annotated[bool, Query(description="Only windows open now")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ChangeWindowOut]:
    """Change windows, newest first."""
    now = dt.datetime.now(dt.UTC) if active else None
    windows = cw.list_windows(context(request).store, environment=environment, active_at=now, limit=limit)
    return [_out(w) for w in windows]


@router.post("/fim/windows/{window_id}/close", response_model=ChangeWindowOut, responses={**NOT_FOUND})
def post_close_window(window_id: IdPath, request: Request, who: Operator) -> ChangeWindowOut:
    """End a window now (the deploy finished); audited."""
    try:
        return _out(cw.close_window(context(request).store, window_id, actor=who.actor))
    except InputError as exc:
        raise NotFoundError(str(exc)) from None


@router.post("/fim/classify", response_model=ClassifyOut)
def post_classify(body: ClassifyIn, request: Request, who: Viewer) -> ClassifyOut:
    """Whether one FIM event (host, environment, path, time) falls in a change window."""
    result = cw.classify_event(
        context(request).store,
        host=body.host,
        environment=body.environment,
        path=body.path,
        observed_at=body.observed_at,
    )
    return ClassifyOut(
        expected=result.expected, label=result.label, deploy_id=result.deploy_id, window_id=result.window_id
    )
