"""The audit trail: events page by page, export (JSON Lines or CSV) for a time range, verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from shieldwall.api import queries
from shieldwall.api.auth import Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import BAD_REQUEST, MAX_ID
from shieldwall.api.schemas import AuditEventOut, AuditPage, AuditVerifyOut
from shieldwall.store.audit import export_text, verify

router = APIRouter(tags=["audit"])

MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@router.get("/audit/events", response_model=AuditPage)
def audit_events(
    request: Request,
    who: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the previous page")] = None,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=256)] = "",
) -> AuditPage:
    """Events of the hash chain, newest first."""
    page = queries.audit_page(context(request).store, limit=limit, before=before, action=action, actor=actor)
    return AuditPage(items=[AuditEventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.get(
    "/audit/export",
    responses={
        **BAD_REQUEST,
        200: {
            "content": {"application/x-ndjson": {}, "text/csv": {}},
            "description": "Every event of the range with its hashes, in chain order",
        },
    },
)
def audit_export(
    request: Request,
    who: Viewer,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
    since: Annotated[str, Query(max_length=64, description="ISO 8601, inclusive")] = "",
    until: Annotated[str, Query(max_length=64, description="ISO 8601, exclusive")] = "",
) -> StreamingResponse:
    """The trail (or a time range of it) as JSON Lines or CSV, for independent verification."""
    for label, value in (("since", since), ("until", until)):
        _check_time(label, value)  # before the response starts: a streamed body cannot turn into a 400
    chunks = export_text(context(request).store, format, since, until)

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk.encode("utf-8")

    return StreamingResponse(
        body(),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="shieldwall-audit.{format}"'},
    )


def _check_time(label: str, value: str) -> None:
    if not value:
        return
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise HTTPException(400, f"{label}: not an ISO 8601 date or time: {value!r}") from None


@router.get("/audit/verify", response_model=AuditVerifyOut)
def audit_verify(request: Request, who: Viewer) -> AuditVerifyOut:
    """Check every link of the chain and every signed checkpoint; name the first broken link."""
    report = verify(context(request).store)
    return AuditVerifyOut(
        ok=report.ok,
        events=report.events,
        checkpoints=report.checkpoints,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        last_signed_seq=report.last_signed_seq,
        unsigned_events=report.unsigned_events,
        broken_seq=report.broken.seq if report.broken else None,
        broken_problem=report.broken.problem if report.broken else "",
        notes=list(report.notes),
    )
