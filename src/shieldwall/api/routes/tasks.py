"""Distributed tasks: the dead letters (tasks that gave up, with their error) and counts per status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from shieldwall.api.auth import Viewer
from shieldwall.api.context import context
from shieldwall.worker.runs import dead_letters, run_counts

router = APIRouter()


class DeadLetterOut(BaseModel):
    """One task that ended in the dead-letter state."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    idempotency_key: str
    attempts: int
    error: str
    payload: dict[str, Any]
    worker: str
    updated_at: str


class TaskSummaryOut(BaseModel):
    """Task runs per status (running, retrying, succeeded, dead)."""

    counts: dict[str, int]


@router.get("/tasks/dead-letters", response_model=list[DeadLetterOut], tags=["tasks"])
def list_dead_letters(
    request: Request, _who: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterOut]:
    """Tasks that failed every attempt (or crashed their worker each time), newest first, with their error."""
    return [DeadLetterOut(**row) for row in dead_letters(context(request).store, limit)]


@router.get("/tasks", response_model=TaskSummaryOut, tags=["tasks"])
def task_summary(request: Request, _who: Viewer) -> TaskSummaryOut:
    """How many distributed task runs are in each state."""
    return TaskSummaryOut(counts=run_counts(context(request).store))
