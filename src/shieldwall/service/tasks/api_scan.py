"""``api.scan``: run an API scan job (``POST /api/v1/scans``) on a worker and keep its job document current."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from shieldwall.api.jobs import SETTING_PREFIX, JobKind, JobStatus, ScanRequest, _from_dict, _now, execute_scan_job
from shieldwall.errors import InputError
from shieldwall.service.tasks.context import TaskContext


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Scan the job's target, record it once (idempotent per job), and save the job's outcome."""
    job_id = str(payload.get("job_id", ""))
    data = ctx.store.get_setting(SETTING_PREFIX + job_id) if job_id else None
    if not isinstance(data, dict):
        raise InputError(f"no API job {job_id!r}")
    job = _from_dict(data)
    if job.status.done:  # delivered again after it finished: nothing to do
        return {"job": job.id, "status": str(job.status), "duplicate": True}
    scanners = frozenset(str(s) for s in payload.get("scanners", []) if isinstance(s, str))
    request = ScanRequest(
        kind=JobKind.REGISTRY,
        target=str(payload.get("target", "")),
        display=str(payload.get("display", "")),
        environment=str(payload.get("environment", "")),
        scanners=scanners or ctx.options.scanners,
    )
    running = dataclasses.replace(job, status=JobStatus.RUNNING, started_at=job.started_at or _now())
    ctx.store.put_setting(SETTING_PREFIX + job.id, running.to_dict())
    options = dataclasses.replace(ctx.options, scanners=request.scanners)
    allow_incomplete = os.environ.get("SHIELDWALL_ALLOW_INCOMPLETE_DB", "").strip().lower() in ("1", "true", "yes")
    done = execute_scan_job(
        ctx.store,
        running,
        request,
        options,
        ctx.scan,
        request_key=f"job:{job.id}",
        allow_incomplete_db=allow_incomplete,
    )
    done = dataclasses.replace(done, finished_at=_now())
    ctx.store.put_setting(SETTING_PREFIX + job.id, done.to_dict())
    return {"job": job.id, "status": str(done.status), "scan_id": done.scan_id}
