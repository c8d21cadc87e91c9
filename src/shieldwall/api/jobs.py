"""Asynchronous work of the API: scans and advisory-database updates in a background thread pool.

``POST /api/v1/scans`` answers at once with a job; a worker thread scans the
target (``service.scan.scan_target``), records the result in the store
(``store.records.record_scan``, which audits it with the submitting token's
identity) and, when the job names a webhook, POSTs the job document to it.
Jobs are kept in the store's settings table (``api.job.<id>``) so their state
outlives a restart; a job that was queued or running when the process stopped
is marked failed on the next start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from shieldwall import __version__
from shieldwall.api.metrics import ApiMetrics
from shieldwall.api.settings import ApiSettings
from shieldwall.egress import EgressDenied, EgressPolicy, guarded_transport
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.model import ScanResult
from shieldwall.service.dispatch import TaskDispatch, remote_dispatch
from shieldwall.service.scan import ALL_SCANNERS, ScanOptions, scan_target
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Setting
from shieldwall.target.limits import DEFAULT_LIMITS

log = logging.getLogger("shieldwall.api")

SETTING_PREFIX = "api.job."
REMOTE_PREFIX = "dispatch.job."
MAX_KEPT_JOBS = 1000
MAX_ERROR = 2000

ScanFunction = Callable[[str, ScanOptions], ScanResult]


class JobStatus(StrEnum):
    """Where a job is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """Finished, one way or the other."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobKind(StrEnum):
    """What a job does."""

    REGISTRY = "registry"
    ARCHIVE = "archive"
    SBOM = "sbom"
    DB_UPDATE = "db-update"


@dataclass(frozen=True, slots=True)
class Job:
    """One job's state as the API shows it."""

    id: str
    kind: JobKind
    status: JobStatus
    target: str
    actor: str
    created_at: str
    environment: str = ""
    started_at: str = ""
    finished_at: str = ""
    scan_id: int | None = None
    asset_id: int | None = None
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    webhook_url: str = ""
    webhook_status: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["status"] = str(self.status)
        return data


def _from_dict(data: dict[str, Any]) -> Job:
    names = {f.name for f in dataclasses.fields(Job)}
    values = {k: v for k, v in data.items() if k in names}
    values["kind"] = JobKind(str(values.get("kind", "registry")))
    values["status"] = JobStatus(str(values.get("status", "failed")))
    return Job(**values)


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")


def _default_scan(text: str, options: ScanOptions) -> ScanResult:
    return scan_target(text, options)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """A scan to run: the target text ``scan_target`` understands and how to record it."""

    kind: JobKind
    target: str
    display: str
    environment: str = ""
    scanners: frozenset[str] = ALL_SCANNERS
    webhook_url: str = ""
    webhook_secret: str = ""
    cleanup: Path | None = None


class JobManager:
    """Queues jobs on a small thread pool and keeps their state in the store."""

    def __init__(
        self,
        store: Store,
        settings: ApiSettings,
        metrics: ApiMetrics,
        *,
        scan: ScanFunction | None = None,
        vulndb_path: Path,
    ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._scan = scan or _default_scan
        self._vulndb_path = vulndb_path
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="shieldwall-job")
        self._lock = threading.Lock()
        self._pending = 0
        self._update_lock = threading.Lock()
        self._remote: TaskDispatch | None = remote_dispatch()

    # -- state ------------------------------------------------------------------------------

    def _save(self, job: Job) -> None:
        self._store.put_setting(SETTING_PREFIX + job.id, job.to_dict())

    def get(self, job_id: str) -> Job | None:
        """A job by ID."""
        data = self._store.get_setting(SETTING_PREFIX + job_id)
        return _from_dict(data) if isinstance(data, dict) else None

    def list(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        with self._store.session() as session:
            rows = list(session.scalars(select(Setting).where(Setting.key.startswith(SETTING_PREFIX))))
        jobs = [_from_dict(json.loads(r.value)) for r in rows]
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        return jobs[: max(1, limit)]

    def queue_depth(self) -> int:
        """Jobs queued or running in this process."""
        with self._lock:
            return self._pending

    def recover(self) -> int:
        """Mark jobs a previous process left queued or running as failed; prune old finished ones."""
        jobs = self.list(limit=100_000)
        failed = 0
        for job in jobs:
            if not job.status.done and self._store.get_setting(REMOTE_PREFIX + job.id) is None:
                self._save(
                    dataclasses.replace(
                        job, status=JobStatus.FAILED, error="interrupted: the server stopped", finished_at=_now()
                    )
                )
                failed += 1
        if len(jobs) > MAX_KEPT_JOBS:
            with self._store.session() as session:
                for job in jobs[MAX_KEPT_JOBS:]:
                    row = session.get(Setting, SETTING_PREFIX + job.id)
                    if row is not None:
                        session.delete(row)
        return failed

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs; queued ones are dropped (and marked failed on the next start)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # -- submitting -------------------------------------------------------------------------

    def _new_job(self, kind: JobKind, target: str, actor: str, environment: str = "", webhook: str = "") -> Job:
        return Job(
            id=secrets.token_hex(8),
            kind=kind,
            status=JobStatus.QUEUED,
            target=target,
            actor=actor,
            created_at=_now(),
            environment=environment,
            webhook_url=webhook,
        )

    def _enqueue(self, job: Job, work: Callable[[Job], None]) -> None:
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                work(job)
            finally:
                with self._lock:
                    self._pending -= 1

        try:
            self._pool.submit(run)
        except RuntimeError:  # shutting down
            with self._lock:
                self._pending -= 1
            self._save(dataclasses.replace(job, status=JobStatus.FAILED, error="the server is shutting down"))
            raise ShieldwallError("the server is shutting down") from None

    def submit_scan(self, request: ScanRequest, actor: str) -> Job:
        """Queue a scan; the submission is audited now, the recorded scan when it finishes."""
        webhook = redact_url(request.webhook_url) if request.webhook_url else ""
        job = self._new_job(request.kind, request.display, actor, request.environment, webhook)
        with self._store.session() as session:
            self._store.put_setting(SETTING_PREFIX + job.id, job.to_dict(), session)
            audit.append_event(
                self._store,
                session,
                "scan.submitted",
                f"job:{job.id}",
                {
                    "kind": str(request.kind),
                    "target": request.display,
                    "environment": request.environment,
                    "scanners": sorted(request.scanners),
                    "webhook": bool(request.webhook_url),
                },
                actor=actor,
            )
        if self._remote is not None and request.kind == JobKind.REGISTRY and not request.webhook_url:
            # a broker is configured: a worker runs it (uploads and webhook jobs stay here: their files
            # and secrets live on this host and never go through the broker)
            self._store.put_setting(REMOTE_PREFIX + job.id, True)
            self._remote.submit(
                "api.scan",
                {
                    "job_id": job.id,
                    "target": request.target,
                    "display": request.display,
                    "environment": request.environment,
                    "scanners": sorted(request.scanners),
                },
                f"api:{job.id}",
            )
            return job
        self._enqueue(job, lambda j: self._run_scan(j, request))
        return job

    def submit_db_update(self, actor: str) -> Job:
        """Queue an advisory-database update (then a rematch of what it changed); audited."""
        job = self._new_job(JobKind.DB_UPDATE, str(self._vulndb_path), actor)
        with self._store.session() as session:
            self._store.put_setting(SETTING_PREFIX + job.id, job.to_dict(), session)
            audit.append_event(
                self._store,
                session,
                "vulndb.update.requested",
                f"job:{job.id}",
                {"db": str(self._vulndb_path), "base_url": self._settings.osv_base_url or "(default)"},
                actor=actor,
            )
        self._enqueue(job, self._run_db_update)
        return job

    # -- running ----------------------------------------------------------------------------

    def _run_scan(self, job: Job, request: ScanRequest) -> None:
        job = dataclasses.replace(job, status=JobStatus.RUNNING, started_at=_now())
        self._save(job)
        started = time.monotonic()
        options = ScanOptions(
            use_cache=self._settings.scan_cache,
            cache_dir=self._settings.cache_dir,
            data_dir=self._settings.data_dir,
            scanners=request.scanners,
            limits=dataclasses.replace(DEFAULT_LIMITS, egress=EgressPolicy.server()),
        )
        job = execute_scan_job(
            self._store, job, request, options, self._scan, allow_incomplete_db=self._settings.allow_incomplete_db
        )
        outcome = "succeeded" if job.status == JobStatus.SUCCEEDED else "failed"
        self._metrics.scans.labels(str(request.kind), outcome).inc()
        self._metrics.scan_seconds.labels(str(request.kind)).observe(time.monotonic() - started)
        job = dataclasses.replace(job, finished_at=_now())
        self._save(job)
        if request.webhook_url:
            self._call_webhook(job, request.webhook_url, request.webhook_secret)

    def _run_db_update(self, job: Job) -> None:
        from shieldwall.service.rematch import rematch_from_vulndb
        from shieldwall.vulndb.update import UpdateOptions, update_database

        job = dataclasses.replace(job, status=JobStatus.RUNNING, started_at=_now())
        self._save(job)
        outcome = "failed"
        try:
            with self._update_lock:
                report = update_database(UpdateOptions(base_url=self._settings.osv_base_url, db_path=self._vulndb_path))
                if self._remote is not None:  # a worker rematches (the database path must be shared with it)
                    task = self._remote.submit(
                        "rematch", {"db": str(self._vulndb_path), "actor": job.actor}, f"rematch:{job.id}"
                    )
                    rematch_doc: dict[str, Any] | None = {"queued": task}
                else:
                    rematched = rematch_from_vulndb(
                        self._store, self._vulndb_path, actor=job.actor, only_if_changed=True
                    )
                    rematch_doc = rematched.to_dict() if rematched is not None else None
            job = dataclasses.replace(
                job,
                status=JobStatus.SUCCEEDED,
                result={
                    "imported": [r.source for r in report.imported],
                    "unchanged": list(report.unchanged),
                    "changed_packages": len(report.changed_packages),
                    "bytes": report.transferred,
                    "rematch": rematch_doc,
                },
            )
            outcome = "succeeded"
        except InputError as exc:
            job = dataclasses.replace(job, status=JobStatus.FAILED, error=str(exc)[:MAX_ERROR])
        except Exception as exc:  # never let a crash kill the worker silently
            log.exception("update job %s crashed", job.id)
            job = dataclasses.replace(
                job, status=JobStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"[:MAX_ERROR]
            )
        self._metrics.db_updates.labels(outcome).inc()
        self._save(dataclasses.replace(job, finished_at=_now()))

    def _call_webhook(self, job: Job, url: str, secret: str) -> None:
        body = json.dumps({"type": "shieldwall.job", "version": 1, "job": job.to_dict()}, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"shieldwall/{__version__}",
            "Idempotency-Key": f"job-{job.id}",
        }
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Shieldwall-Signature"] = f"sha256={digest}"
        status = "failed"
        for attempt in range(max(1, self._settings.webhook_attempts)):
            try:
                transport = guarded_transport(EgressPolicy.server())
                with httpx.Client(
                    timeout=self._settings.webhook_timeout, follow_redirects=False, transport=transport
                ) as client:
                    response = client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    status = f"delivered ({response.status_code})"
                    break
                status = f"failed (HTTP {response.status_code})"
                if response.status_code < 500 and response.status_code != 429:
                    break
            except httpx.HTTPError as exc:
                status = f"failed ({type(exc).__name__})"
            except EgressDenied as exc:
                status = f"refused ({exc})"
                break
            if attempt + 1 < self._settings.webhook_attempts:
                time.sleep(min(2.0**attempt, 10.0))
        self._metrics.webhooks.labels("delivered" if status.startswith("delivered") else "failed").inc()
        with contextlib.suppress(ShieldwallError):
            self._save(dataclasses.replace(job, webhook_status=status))


def redact_url(url: str) -> str:
    """A webhook URL as the API shows it: scheme, host and path, no query or credentials."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def execute_scan_job(
    store: Store,
    job: Job,
    request: ScanRequest,
    options: ScanOptions,
    scan: ScanFunction,
    request_key: str = "",
    *,
    allow_incomplete_db: bool = False,
) -> Job:
    """Scan and record one job's target; the job as it ends (succeeded or failed, with its error).

    Shared by the API's thread pool and the ``api.scan`` worker task; ``request_key``
    makes the recording idempotent (``store.idempotency``). Without ``allow_incomplete_db``
    a scan whose packages could not all be checked for vulnerabilities fails (fail closed).
    """
    from shieldwall.match.coverage import not_evaluated_packages, refuse_unevaluated
    from shieldwall.store.records import record_scan

    try:
        result = scan(request.target, options)
        refuse_unevaluated(result, request.scanners, allow_incomplete_db)
        if request.cleanup is not None and str(request.cleanup) in result.target.name:
            # an upload without a name of its own: show the uploaded file's name, not the temporary path
            result = dataclasses.replace(result, target=dataclasses.replace(result.target, name=request.display))
        record = record_scan(
            store,
            result,
            trigger="api",
            actor=job.actor,
            environment=request.environment,
            scanners=request.scanners,
            target_text=request.display,
            request_key=request_key,
        )
        return dataclasses.replace(
            job,
            status=JobStatus.SUCCEEDED,
            scan_id=record.scan_id,
            asset_id=record.asset_id,
            result={
                "asset": record.asset_identifier,
                "packages": len(result.packages),
                "findings": len(result.findings),
                "warnings": len(result.warnings),
                "not_evaluated": len(not_evaluated_packages(result)),
                "drift": record.drift,
                **{f"findings_{k}": int(v) for k, v in record.counts.items()},
            },
        )
    except InputError as exc:
        return dataclasses.replace(job, status=JobStatus.FAILED, error=str(exc)[:MAX_ERROR])
    except Exception as exc:  # a crashed scan must fail its job, never the worker
        if request_key:
            raise  # on a worker: retried with backoff, then dead-lettered (worker.runner)
        log.exception("scan job %s crashed", job.id)
        return dataclasses.replace(
            job, status=JobStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"[:MAX_ERROR]
        )
    finally:
        if request.cleanup is not None:
            shutil.rmtree(request.cleanup, ignore_errors=True)
