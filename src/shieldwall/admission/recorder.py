"""Side effects of a decision, kept off the request path: the audit record and the scan of an unknown image.

The webhook answers first; a single writer thread then appends one
``admission.decision`` event per decision to the store's audit chain (in
batches, one transaction per batch) and submits the scans that an
``unknown_image: scan`` policy asked for through the API's job machinery.
The queue is bounded: when it is full the record is dropped, counted, and
logged as an error (the counter is on ``/healthz`` and ``/metrics``), so a
slow store can never make admission slow. Dry-run requests reach neither.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shieldwall.store import Store, audit

log = logging.getLogger("shieldwall.admission")

ACTION = "admission.decision"
ACTOR = "shieldwall-admission"
DEFAULT_QUEUE = 10_000
BATCH = 200
RESCAN_AFTER_SECONDS = 600.0


class ScanQueue(Protocol):
    """Where scans of unknown images go (the API's ``JobManager`` in production)."""

    def submit(self, reference: str, actor: str) -> str:
        """Queue a scan of ``reference``; return the job ID."""
        ...


@dataclass(frozen=True, slots=True)
class Record:
    """One decision to audit, and the image scans it asked for."""

    target: str
    details: dict[str, Any]
    scans: tuple[str, ...] = ()


@dataclass
class RecorderStats:
    """Counters the health and metrics endpoints show."""

    recorded: int = 0
    dropped: int = 0
    failed: int = 0
    scans_queued: int = 0
    scan_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Recorder:
    """A bounded queue and one writer thread that appends audit events and submits scans."""

    def __init__(
        self,
        store: Store,
        scans: ScanQueue | None,
        *,
        maxsize: int = DEFAULT_QUEUE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._scans = scans
        self._queue: queue.Queue[Record | None] = queue.Queue(maxsize=maxsize)
        self._clock = clock
        self._recent: dict[str, float] = {}
        self.stats = RecorderStats()
        self._thread = threading.Thread(target=self._run, name="shieldwall-admission-audit", daemon=True)
        self._thread.start()

    def put(self, record: Record) -> bool:
        """Queue a record without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(record)
            return True
        except queue.Full:
            with self.stats.lock:
                self.stats.dropped += 1
            log.error("admission audit queue full: decision on %s not recorded", record.target)
            return False

    def depth(self) -> int:
        """Records waiting to be written."""
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.error("admission audit queue full at shutdown")
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[Record]) -> None:
        for record in batch:
            jobs = self._submit_scans(record.scans)
            if jobs:
                record.details["scan_jobs"] = jobs
        try:
            with self._store.session() as session:
                for record in batch:
                    audit.append_event(self._store, session, ACTION, record.target, record.details, actor=ACTOR)
            with self.stats.lock:
                self.stats.recorded += len(batch)
        except Exception:  # a store outage must not kill the writer; the loss is counted and logged
            log.exception("admission audit: %d decisions not recorded", len(batch))
            with self.stats.lock:
                self.stats.failed += len(batch)

    def _submit_scans(self, references: tuple[str, ...]) -> dict[str, str]:
        jobs: dict[str, str] = {}
        if self._scans is None:
            return jobs
        now = self._clock()
        for reference in references:
            last = self._recent.get(reference)
            if last is not None and now - last < RESCAN_AFTER_SECONDS:
                jobs[reference] = "already queued"
                continue
            try:
                jobs[reference] = self._scans.submit(reference, ACTOR)
                self._recent[reference] = now
                with self.stats.lock:
                    self.stats.scans_queued += 1
            except Exception as exc:  # a failed submission is recorded with the decision
                jobs[reference] = f"not queued: {type(exc).__name__}: {exc}"[:300]
                with self.stats.lock:
                    self.stats.scan_errors += 1
        return jobs


def decision_record(
    *,
    uid: str,
    namespace: str,
    kind: str,
    name: str,
    operation: str,
    user: str,
    allowed: bool,
    mode: str,
    elapsed_ms: float,
    violations: list[dict[str, Any]] | None = None,
    excepted: list[dict[str, Any]] | None = None,
    resolutions: list[dict[str, Any]] | None = None,
    failure: str = "",
    scans: tuple[str, ...] = (),
) -> Record:
    """The audit record of one answer (a decision, or a failure action with its cause)."""
    details: dict[str, Any] = {
        "uid": uid,
        "namespace": namespace,
        "kind": kind,
        "name": name,
        "operation": operation,
        "user": user,
        "allowed": allowed,
        "mode": mode,
        "elapsed_ms": round(elapsed_ms, 2),
        "violations": violations or [],
        "excepted": excepted or [],
        "images": resolutions or [],
    }
    if failure:
        details["failure"] = failure
    target = f"k8s:{namespace}/{kind}/{name}" if kind else f"k8s:{namespace or '?'}/{uid or '?'}"
    return Record(target=target[:1000], details=details, scans=scans)
