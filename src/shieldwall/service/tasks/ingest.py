"""``agent.ingest``: process one agent event batch that the agent route stored (``service/fleet/queued.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shieldwall.errors import InputError
from shieldwall.service.fleet.queued import process_batch
from shieldwall.service.tasks.context import TaskContext


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Store the batch's events once and run the module handlers on them."""
    ident = payload.get("batch")
    if not isinstance(ident, str) or len(ident) != 64:
        raise InputError("task payload: batch must be a batch ID")
    return process_batch(ctx.store, ident)
