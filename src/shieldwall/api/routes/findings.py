"""Findings (filters, sort, cursor pages, one in full) and exceptions (create with reason and expiry, revoke)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from shieldwall.api import queries
from shieldwall.api.auth import Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath, IdQuery
from shieldwall.api.schemas import (
    ExceptionCreate,
    ExceptionCreated,
    ExceptionOut,
    ExceptionRevoked,
    FindingDetailOut,
    FindingOut,
    FindingPage,
)
from shieldwall.errors import InputError
from shieldwall.model import FindingKind, Severity
from shieldwall.store import Store
from shieldwall.store.queries import add_exception, revoke_exception

router = APIRouter(tags=["findings"])

SeverityName = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
KindName = Literal["vulnerability", "secret", "sensitive-file", "malware", "misconfig", "license", "drift"]
StatusName = Literal["open", "reopened", "fixed", "not-applicable", "suppressed", "active"]
assert set(SeverityName.__args__) == {str(s) for s in Severity}  # type: ignore[attr-defined]
assert set(KindName.__args__) == {str(k) for k in FindingKind}  # type: ignore[attr-defined]


def finding_filter(
    severity: list[str],
    kind: list[str],
    status: list[str],
    asset_id: int | None,
    environment: str,
    rule: str,
    q: str,
) -> queries.FindingFilter:
    """The filter of a findings listing (``active`` is open or reopened)."""
    statuses: list[str] = []
    for value in status:
        statuses.extend(queries.ACTIVE if value == "active" else [value])
    return queries.FindingFilter(
        severities=tuple(sorted(set(severity))),
        kinds=tuple(sorted(set(kind))),
        statuses=tuple(sorted(set(statuses))),
        asset_id=asset_id,
        environment=environment,
        rule=rule,
        q=q,
    )


@router.get("/findings", response_model=FindingPage, responses={**BAD_REQUEST})
def list_findings(
    request: Request,
    who: Viewer,
    severity: Annotated[list[SeverityName], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    kind: Annotated[list[KindName], Query()] = [],  # noqa: B006
    status: Annotated[list[StatusName], Query(description="active = open or reopened")] = [],  # noqa: B006
    asset_id: IdQuery = None,
    environment: Annotated[str, Query(max_length=128)] = "",
    rule: Annotated[str, Query(max_length=256)] = "",
    q: Annotated[str, Query(max_length=200, description="Search rule ID, title, package, path, asset")] = "",
    sort: Annotated[Literal["severity", "last_seen", "first_seen", "id"], Query()] = "severity",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str, Query(max_length=512, description="next_cursor of the previous page")] = "",
) -> FindingPage:
    """Stored findings with filters, a stable sort order and opaque cursor pagination."""
    store = context(request).store
    filt = finding_filter(list(severity), list(kind), list(status), asset_id, environment, rule, q)
    try:
        page = queries.page_findings(
            store, filt, sort=queries.FindingSort(sort), descending=order == "desc", limit=limit, cursor=cursor
        )
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return FindingPage(
        items=[FindingOut.model_validate(v) for v in page.items],
        next_cursor=page.next_cursor,
        total=queries.count_findings(store, filt),
    )


@router.get("/findings/{finding_id}", response_model=FindingDetailOut, responses={**NOT_FOUND})
def get_finding(finding_id: IdPath, request: Request, who: Viewer) -> FindingDetailOut:
    """One finding: evidence (how it was matched), fix, layer, suppressions, VEX status, exception history."""
    detail = queries.finding_detail(context(request).store, finding_id)
    data = detail.to_dict()
    view = data.pop("view")
    return FindingDetailOut.model_validate({**view, **data})


@router.get("/exceptions", response_model=list[ExceptionOut])
def list_exceptions(
    request: Request,
    who: Viewer,
    state: Annotated[Literal["", "active", "expired", "revoked"], Query()] = "",
) -> list[ExceptionOut]:
    """Exceptions (accepted risks), newest first."""
    return [ExceptionOut.model_validate(v) for v in queries.list_exceptions(context(request).store, state=state)]


@router.get("/exceptions/{exception_id}", response_model=ExceptionOut, responses={**NOT_FOUND})
def get_exception(exception_id: IdPath, request: Request, who: Viewer) -> ExceptionOut:
    """One exception."""
    return ExceptionOut.model_validate(queries.get_exception(context(request).store, exception_id))


def create_exception(ctx_store: Store, body: ExceptionCreate, actor: str) -> int:
    """Store an exception from a request body (shared with the dashboard's form); returns its ID."""
    fingerprint, rule_id, package, asset_id = body.fingerprint, body.rule_id, body.package, body.asset_id
    if body.finding_id is not None:
        owner, fingerprint, _rule, _package = queries.stored_finding(ctx_store, body.finding_id)
        asset_id = owner if asset_id is None else asset_id
    expires = body.expires_at
    if expires is not None:
        try:
            expires = (expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        except OverflowError:
            raise InputError("the expiry is out of range") from None
        if expires <= dt.datetime.now(dt.UTC):
            raise InputError("the expiry is in the past")
    if asset_id is not None:
        queries.asset_detail(ctx_store, asset_id, scans=0)  # 404 for an unknown asset
    return add_exception(
        ctx_store,
        reason=body.reason,
        fingerprint=fingerprint,
        rule_id=rule_id,
        package_name=package,
        asset=str(asset_id) if asset_id is not None else "",
        expires=expires,
        author=actor,
    )


@router.post("/exceptions", status_code=201, response_model=ExceptionCreated, responses={**BAD_REQUEST, **NOT_FOUND})
def post_exception(body: ExceptionCreate, request: Request, who: Operator) -> ExceptionCreated:
    """Accept a risk: the findings it covers become suppressed with its reason until it expires or is revoked."""
    store = context(request).store
    try:
        new_id = create_exception(store, body, who.actor)
    except queries.NotFoundError:
        raise  # 404 from the app's handler
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return ExceptionCreated(exception=ExceptionOut.model_validate(queries.get_exception(store, new_id)))


@router.post(
    "/exceptions/{exception_id}/revoke",
    response_model=ExceptionRevoked,
    responses={**BAD_REQUEST, **NOT_FOUND},
)
def post_revoke_exception(exception_id: IdPath, request: Request, who: Operator) -> ExceptionRevoked:
    """Revoke an exception: the findings it held are open again; the exception stays on record."""
    store = context(request).store
    current = queries.get_exception(store, exception_id)
    if current.state == "revoked":
        raise HTTPException(400, f"exception #{exception_id} is already revoked")
    try:
        released = revoke_exception(store, exception_id, actor=who.actor)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return ExceptionRevoked(
        exception=ExceptionOut.model_validate(queries.get_exception(store, exception_id)), findings_released=released
    )
