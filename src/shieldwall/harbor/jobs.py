"""Harbor scan jobs: queued at once, scanned on a small thread pool, kept (bounded) until Harbor reads them.

A job is ``queued``, ``running``, ``finished`` (with its ``ScanResult``) or
``failed`` (with an error Harbor shows). The scan runs the normal pipeline
(``service.scan.scan_resolved``) on the artifact pulled with Harbor's
credentials and, with a store, records it like any registry scan (asset by
digest, the tag Harbor named), so admission control and the dashboard see
Harbor's images too. Finished jobs (their results are held in memory) expire
``ttl_seconds`` after they finish, as the reference adapter's job store does;
at most ``max_jobs`` are kept: the oldest finished ones go first; when every
slot is busy a new request is refused (500).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shieldwall.errors import ShieldwallError
from shieldwall.harbor.pull import open_artifact
from shieldwall.harbor.request import ScanRequest
from shieldwall.model import ScanResult
from shieldwall.service.progress import NullProgress
from shieldwall.service.scan import ScanOptions, scan_resolved
from shieldwall.store import Store

log = logging.getLogger("shieldwall.harbor")

DEFAULT_MAX_JOBS = 200
DEFAULT_TTL_SECONDS = 3600.0
MAX_ERROR = 1000


class JobStatus(StrEnum):
    """Where a Harbor scan job is."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HarborJob:
    """One scan request's state."""

    id: str
    request: ScanRequest
    status: JobStatus
    created_at: str
    finished_at: str = ""
    error: str = ""
    result: ScanResult | None = field(default=None, repr=False)
    done_at: float = 0.0


class JobLimitError(ShieldwallError):
    """Every job slot holds an unfinished scan."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


Scanner = Callable[[ScanRequest], ScanResult]


class HarborJobs:
    """The adapter's job table and worker threads."""

    def __init__(
        self,
        options: ScanOptions,
        *,
        store: Store | None = None,
        workers: int = 2,
        max_jobs: int = DEFAULT_MAX_JOBS,
        allowed_registries: Sequence[str] = (),
        verify: bool | str | ssl.SSLContext = True,
        scanner: Scanner | None = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self._store = store
        self._allowed = tuple(allowed_registries)
        self._verify = verify
        self._scanner = scanner or self._scan
        self._max = max_jobs
        self._ttl = ttl_seconds
        self._clock = clock
        self._jobs: OrderedDict[str, HarborJob] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shieldwall-harbor")

    def submit(self, request: ScanRequest) -> HarborJob:
        """Queue a scan and return its job at once."""
        job = HarborJob(id=secrets.token_hex(16), request=request, status=JobStatus.QUEUED, created_at=_now())
        with self._lock:
            self._expire()
            if len(self._jobs) >= self._max:
                finished = [k for k, j in self._jobs.items() if j.status in (JobStatus.FINISHED, JobStatus.FAILED)]
                if not finished:
                    raise JobLimitError(f"{self._max} scans are already queued or running")
                del self._jobs[finished[0]]
            self._jobs[job.id] = job
        self._pool.submit(self._run, job.id)
        return job

    def get(self, job_id: str) -> HarborJob | None:
        """A job by ID (None when unknown or expired)."""
        with self._lock:
            self._expire()
            return self._jobs.get(job_id)

    def _expire(self) -> None:
        limit = self._clock() - self._ttl
        for key in [k for k, j in self._jobs.items() if j.done_at and j.done_at < limit]:
            del self._jobs[key]

    def shutdown(self) -> None:
        """Stop the workers (queued scans are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]

    def _run(self, job_id: str) -> None:
        job = self.get(job_id)
        if job is None:
            return
        self._update(job_id, status=JobStatus.RUNNING)
        try:
            result = self._scanner(job.request)
            if self._store is not None:
                self._record(job.request, result)
        except ShieldwallError as exc:
            self._update(job_id, status=JobStatus.FAILED, error=str(exc)[:MAX_ERROR], finished_at=_now(),
                         done_at=self._clock())  # fmt: skip
            return
        except Exception as exc:  # a crashed scan fails its job, never the worker
            log.exception("harbor scan %s crashed", job_id)
            message = f"internal error: {type(exc).__name__}: {exc}"[:MAX_ERROR]
            self._update(job_id, status=JobStatus.FAILED, error=message, finished_at=_now(), done_at=self._clock())
            return
        self._update(job_id, status=JobStatus.FINISHED, result=result, finished_at=_now(), done_at=self._clock())

    def _scan(self, request: ScanRequest) -> ScanResult:
        resolved = open_artifact(request, self._options.limits, allowed_registries=self._allowed, verify=self._verify)
        try:
            return scan_resolved(resolved, self._options, NullProgress())
        finally:
            resolved.close()

    def _record(self, request: ScanRequest, result: ScanResult) -> None:
        from shieldwall.store.records import TagRef, record_scan

        name = f"{request.registry_host}/{request.repository}"
        tags = [TagRef(name, request.tag, request.digest)] if request.tag else []
        record_scan(self._store, result, trigger="harbor", actor="harbor-adapter", tags=tags)  # type: ignore[arg-type]
