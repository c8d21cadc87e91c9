"""With a broker, the API's registry scan jobs run on a worker; dead letters are visible over the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from helpers.registry_server import RunningRegistry
from helpers.scale_cluster import Cluster, push_image, push_poison_image, wait_for
from shieldwall.api.app import create_app
from shieldwall.api.jobs import JobKind, JobManager, JobStatus, ScanRequest
from shieldwall.api.metrics import ApiMetrics
from shieldwall.api.settings import ApiSettings
from shieldwall.api.tokens import Role, create_token
from shieldwall.service.dispatch import CeleryDispatch
from shieldwall.store.schema import Scan, TaskRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_api_scan_job_runs_on_a_worker_and_survives_an_api_restart(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = push_image(tmp_path, registry.host, "api/app", "1.0", "api-job")
    with cluster.store() as store:
        jobs = JobManager(store, ApiSettings(), ApiMetrics(), vulndb_path=tmp_path / "none.db")
        request = ScanRequest(JobKind.REGISTRY, f"registry:{registry.host}/api/app:1.0", f"{registry.host}/api/app:1.0")
        job = jobs.submit_scan(request, actor="tester")
        assert jobs.queue_depth() == 0  # nothing runs in this process
        # the API restarts before any worker ran it: the job stays queued in the broker, not failed
        assert jobs.recover() == 0
        assert jobs.get(job.id).status == JobStatus.QUEUED  # type: ignore[union-attr]
        cluster.start_worker("w1")
        wait_for(lambda: (jobs.get(job.id) or job).status.done, "the job to finish on the worker", detail=cluster.logs)
        done = jobs.get(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done
        assert done.result["asset"] == digest
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Scan)) == 1
            run = session.scalars(select(TaskRun)).one()
        assert run.name == "api.scan" and run.status == "succeeded"
        jobs.shutdown()


def test_dead_letters_over_the_api(cluster: Cluster, registry: RunningRegistry) -> None:
    poison = push_poison_image(registry.host, "api/poison", "1.0")
    task = CeleryDispatch(cluster.broker).submit(
        "scan.image", {"repository": f"{registry.host}/api/poison", "digest": poison, "tags": ["1.0"]}
    )
    cluster.start_worker("w1")
    with cluster.store() as store:

        def dead() -> bool:
            with store.session() as session:
                run = session.get(TaskRun, task)
                return run is not None and run.status == "dead"

        wait_for(dead, "the poison task to be dead-lettered", detail=cluster.logs)
        token = create_token(store, "viewer", Role.VIEWER).token
        with TestClient(create_app(store, dashboard=False)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            letters = client.get("/api/v1/tasks/dead-letters", headers=headers)
            summary = client.get("/api/v1/tasks", headers=headers)
            anonymous = client.get("/api/v1/tasks/dead-letters")
    assert letters.status_code == 200
    assert [(row["id"], row["attempts"]) for row in letters.json()] == [(task, 1)]  # hostile input: permanent
    assert "image config is not JSON" in letters.json()[0]["error"]
    assert summary.json()["counts"] == {"dead": 1}
    assert anonymous.status_code == 401
