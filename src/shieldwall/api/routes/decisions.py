"""Who decided what: exceptions and scan-time statements (VEX, exception files) by expiry; the audit check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from shieldwall.api import decisions
from shieldwall.api.auth import Viewer
from shieldwall.api.context import context
from shieldwall.api.schemas import ExceptionOut

router = APIRouter(tags=["decisions"])


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ExceptionDecisionOut(ExceptionOut):
    """A stored exception with the findings it sets aside now and the days until it expires."""

    suppressing: int
    days_left: float | None


class StatementOut(_Out):
    """A VEX statement or exception-file rule from scans, grouped over the findings it covers."""

    kind: str
    rule: str
    source: str
    author: str
    reason: str
    expires: str
    status: str
    findings: int
    assets: int
    state: str
    days_left: float | None


class DecisionEventOut(_Out):
    """An audit event that records a decision."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditStatusOut(_Out):
    """The audit chain's verification: ``ok`` false names the first broken event."""

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    last_signed_seq: int
    unsigned_events: int
    broken_seq: int | None
    problem: str
    notes: list[str]


class DecisionsOut(_Out):
    """Exceptions and statements by expiry (IDs of the expiring, expired and open-ended exceptions), events, audit."""

    within_days: int
    counts: dict[str, int]
    exceptions: list[ExceptionDecisionOut]
    expiring: list[int]
    expired: list[int]
    open_ended: list[int]
    statements: list[StatementOut]
    statements_truncated: bool
    events: list[DecisionEventOut]
    audit: AuditStatusOut


@router.get("/decisions", response_model=DecisionsOut)
def get_decisions(
    request: Request,
    who: Viewer,
    within: Annotated[int, Query(ge=1, le=3660, description="expiring: ends within this many days")] = 30,
) -> DecisionsOut:
    """Exceptions and VEX/exception-file statements with owner, reason and expiry; the audit trail's verification."""
    return DecisionsOut.model_validate(decisions.decisions(context(request).store, within_days=within).to_dict())
