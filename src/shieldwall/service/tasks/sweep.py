"""``registry.sweep``: a registry-wide sweep run by a worker (it queues one ``scan.image`` per new digest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shieldwall.errors import InputError
from shieldwall.service.monitor_config import WatchedRegistry
from shieldwall.service.sweep import sweep_registry
from shieldwall.service.tasks.context import TaskContext


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Sweep the registry described by ``payload['registry']`` (a monitor ``registries:`` entry)."""
    if ctx.dispatch is None:
        raise InputError("registry.sweep needs a dispatch to queue its scans")
    watched = WatchedRegistry.model_validate(payload.get("registry", {}))
    report = sweep_registry(
        ctx.store,
        watched,
        ctx.dispatch,
        trigger=str(payload.get("trigger", "sweep")),
        monitor=bool(payload.get("monitor")),
    )
    return report.to_dict()
