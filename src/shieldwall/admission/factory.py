"""Build the webhook application from the process environment (one call per server process).

``shieldwall admission serve --processes N`` hands the configuration to
uvicorn's worker processes through ``SHIELDWALL_ADMISSION_*`` variables; each
process opens its own store connection, audit writer and (with an
``unknown_image: scan`` policy) job manager. The audit chain's lock already
serialises writers from several processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

ENV_POLICY = "SHIELDWALL_ADMISSION_POLICY"
ENV_MAX_BODY = "SHIELDWALL_ADMISSION_MAX_BODY_BYTES"
ENV_THREADS = "SHIELDWALL_ADMISSION_THREADS"


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """What one webhook process needs."""

    policy: Path | None
    max_body_bytes: int
    threads: int

    def to_environ(self) -> dict[str, str]:
        """The variables that carry this configuration to worker processes."""
        return {
            ENV_POLICY: str(self.policy) if self.policy else "",
            ENV_MAX_BODY: str(self.max_body_bytes),
            ENV_THREADS: str(self.threads),
        }

    @classmethod
    def from_environ(cls) -> ServeConfig:
        """The configuration a parent process exported."""
        policy = os.environ.get(ENV_POLICY, "")
        return cls(
            policy=Path(policy) if policy else None,
            max_body_bytes=int(os.environ.get(ENV_MAX_BODY, str(3 * 1024 * 1024))),
            threads=int(os.environ.get(ENV_THREADS, "8")),
        )


def build_app(config: ServeConfig) -> FastAPI:
    """The app over the store of ``SHIELDWALL_DATABASE_URL``, with its audit writer and scan queue."""
    from shieldwall.admission.app import create_app
    from shieldwall.admission.policy import UnknownImage, load_policy
    from shieldwall.admission.recorder import Recorder, ScanQueue
    from shieldwall.admission.service import AdmissionService
    from shieldwall.store import Store

    policy = load_policy(config.policy)
    store = Store.open()
    scans: ScanQueue | None = None
    closers = []
    wants_scans = policy.default.unknown_image is UnknownImage.SCAN or any(
        policy.for_namespace(name).unknown_image is UnknownImage.SCAN for name in policy.namespaces
    )
    if wants_scans:
        from shieldwall.admission.scans import JobManagerScans
        from shieldwall.api import ApiSettings

        settings = ApiSettings.from_environ()
        job_scans = JobManagerScans.start(store, settings, settings.vulndb_path)
        closers.append(job_scans.shutdown)
        scans = job_scans
    closers.append(store.close)
    recorder = Recorder(store, scans)
    return create_app(
        AdmissionService(store, policy), recorder, max_body_bytes=config.max_body_bytes, workers=config.threads,
        on_shutdown=closers,
    )  # fmt: skip


def app_from_environ() -> FastAPI:
    """uvicorn's ``factory=True`` entry point for worker processes."""
    return build_app(ServeConfig.from_environ())
