"""``rematch``: re-match stored inventories after an advisory-database update, on a worker."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shieldwall.service.rematch import rematch_from_vulndb
from shieldwall.service.tasks.context import TaskContext


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Rematch what the database at ``db`` (or the worker's own) changed; ``monitor`` adds its alerts."""
    from shieldwall.vulndb.store import default_db_path

    db = Path(str(payload["db"])) if payload.get("db") else (ctx.vulndb_path or default_db_path())
    alerts = None
    if payload.get("monitor"):
        from shieldwall.service.monitor import effective_config

        alerts = effective_config(ctx.store, None).alerts
    actor = str(payload.get("actor", "")) or "shieldwall-worker"
    report = rematch_from_vulndb(ctx.store, db, alerts=alerts, actor=actor, only_if_changed=True)
    if report is None:
        return {"rematched": False}
    doc = report.to_dict()
    doc.pop("assets", None)
    return {"rematched": True, **doc}
