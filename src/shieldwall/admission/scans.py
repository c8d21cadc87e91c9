"""Scans of unknown images through the API's job machinery (``api.jobs.JobManager``)."""

from __future__ import annotations

from pathlib import Path

from shieldwall.api.jobs import JobKind, JobManager, ScanRequest
from shieldwall.api.metrics import ApiMetrics
from shieldwall.api.settings import ApiSettings
from shieldwall.store import Store


class JobManagerScans:
    """A ``ScanQueue`` that submits registry scans as API jobs (recorded and audited like any other)."""

    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs

    @classmethod
    def start(cls, store: Store, settings: ApiSettings, vulndb_path: Path) -> JobManagerScans:
        """A job manager of this process (its own worker threads) over ``store``."""
        return cls(JobManager(store, settings, ApiMetrics(), vulndb_path=vulndb_path))

    def submit(self, reference: str, actor: str) -> str:
        """Queue a scan of ``reference``; the job records the result in the store when it finishes."""
        request = ScanRequest(kind=JobKind.REGISTRY, target=f"registry:{reference}", display=reference)
        return self._jobs.submit_scan(request, actor).id

    def shutdown(self) -> None:
        """Stop the job threads (queued scans are marked failed on the next start, as in the API)."""
        self._jobs.shutdown(wait=False)
