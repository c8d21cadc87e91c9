"""What changed: an asset's scans over time (new and resolved findings, package drift) and the fleet's changes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from shieldwall.api import changes
from shieldwall.api.auth import Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath
from shieldwall.api.schemas import FindingOut, ScanOut

router = APIRouter(tags=["changes"])
MAX_DAYS = 3660


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class HistoryStepOut(_Out):
    """One scan of an asset's history and what it changed against the scan before it."""

    scan: ScanOut
    digest: str
    previous_scan_id: int | None
    previous_asset_id: int | None
    image_changed: bool
    new_findings: int
    resolved_findings: int
    packages: dict[str, int]


class AssetHistoryOut(_Out):
    """The scans of an asset and of the tags that pointed at it, newest first."""

    asset_id: int
    name: str
    identifier: str
    tags: list[str]
    steps: list[HistoryStepOut]
    truncated: bool


class PackageChangeOut(_Out):
    """A package added, removed, upgraded, downgraded or otherwise changed between two images."""

    change: str
    type: str
    name: str
    before: str
    after: str


class ScanChangesOut(_Out):
    """One scan of the history in full (lists hold at most 500 findings; the step's counts are exact)."""

    step: HistoryStepOut
    package_changes: list[PackageChangeOut]
    new: list[FindingOut]
    resolved: list[FindingOut]


class AssetChangeOut(_Out):
    """An asset added or retired in the period."""

    asset_id: int
    kind: str
    name: str
    identifier: str
    environment: str
    at: str


class RebuildOut(_Out):
    """A repository tag that moved to a new digest in the period."""

    repository: str
    tag: str
    at: str
    old_asset_id: int
    old_digest: str
    new_asset_id: int
    new_digest: str


class FleetChangesOut(_Out):
    """What the fleet gained, lost and rebuilt in ``[since, until)``; counts are exact, lists bounded."""

    since: str
    until: str
    added_count: int
    rebuilt_count: int
    retired_count: int
    added: list[AssetChangeOut]
    rebuilt: list[RebuildOut]
    retired: list[AssetChangeOut]
    new_findings: dict[str, int]
    resolved_findings: dict[str, int]


@router.get("/assets/{asset_id}/changes", response_model=AssetHistoryOut, responses={**NOT_FOUND})
def get_asset_changes(
    asset_id: IdPath, request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> AssetHistoryOut:
    """The asset's scans (and its tags' scans) over time, each with new and resolved findings and package drift."""
    history = changes.asset_history(context(request).store, asset_id, limit=limit)
    return AssetHistoryOut.model_validate(history.to_dict())


@router.get("/assets/{asset_id}/changes/{scan_id}", response_model=ScanChangesOut, responses={**NOT_FOUND})
def get_scan_changes(asset_id: IdPath, scan_id: IdPath, request: Request, who: Viewer) -> ScanChangesOut:
    """One scan of the asset's history: every package change and the findings it added and resolved."""
    return ScanChangesOut.model_validate(changes.scan_changes(context(request).store, asset_id, scan_id).to_dict())


def parse_period(days: int, since: str, until: str) -> tuple[dt.datetime, dt.datetime]:
    """``[since, until)`` from ISO dates or times; the last ``days`` days when ``since`` is empty."""
    try:
        end = _instant(until) if until else None
        if since:
            start = _instant(since)
            end = end or changes.period(0)[1]
        else:
            start, end = changes.period(days, end)
    except ValueError as exc:
        raise HTTPException(400, f"not an ISO date or time: {exc}") from None
    if start >= end:
        raise HTTPException(400, "since must be before until")
    return start, end


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@router.get("/changes", response_model=FleetChangesOut, responses={**BAD_REQUEST})
def get_fleet_changes(
    request: Request,
    who: Viewer,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="the last N days (when since is not given)")] = 7,
    since: Annotated[str, Query(max_length=40, description="ISO date or time (UTC when no offset)")] = "",
    until: Annotated[str, Query(max_length=40, description="ISO date or time; default now")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> FleetChangesOut:
    """Assets added, tags rebuilt (same repository:tag, new digest), images retired, findings new and resolved."""
    start, end = parse_period(days, since, until)
    return FleetChangesOut.model_validate(
        changes.fleet_changes(context(request).store, start, end, limit=limit).to_dict()
    )
