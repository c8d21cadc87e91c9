"""Reliability with real processes: a worker SIGKILLed mid-scan, a poison image, Redis and PostgreSQL restarts."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers.postgres_server import RunningPostgres, start_postgres
from helpers.redis_server import RunningRedis
from helpers.registry_server import RunningRegistry
from helpers.scale_cluster import Cluster, GateProxy, pg_ctl, push_image, push_poison_image, wait_for
from shieldwall.service.dispatch import CeleryDispatch
from shieldwall.store.schema import Scan, TaskRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _runs(cluster: Cluster) -> dict[str, TaskRun]:
    with cluster.store() as store, store.session() as session:
        return {r.id: r for r in session.scalars(select(TaskRun))}


def _scans(cluster: Cluster) -> int:
    with cluster.store() as store, store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Scan)) or 0)


def _scan_task(repository: str, digest: str, tag: str = "1.0") -> dict[str, object]:
    return {"repository": repository, "digest": digest, "tags": [tag], "trigger": "test", "request": "initial"}


def _status(cluster: Cluster, task_id: str) -> str:
    run = _runs(cluster).get(task_id)
    return run.status if run is not None else ""


def test_worker_killed_mid_scan_is_retried_elsewhere_and_recorded_once(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = push_image(tmp_path, registry.host, "kill/app", "1.0", "kill-me")
    proxy = GateProxy(registry.host)
    try:
        first = cluster.start_worker("w1")
        task = CeleryDispatch(cluster.broker).submit("scan.image", _scan_task(f"{proxy.host}/kill/app", digest))
        assert proxy.blob_requested.wait(120), cluster.logs()
        run = _runs(cluster)[task]
        assert run.status == "running" and run.attempts == 1
        assert run.worker.endswith(f":{first.pid}")
        os.killpg(first.pid, signal.SIGKILL)  # mid-scan: the worker is waiting for a layer
        first.wait(30)
        cluster.start_worker("w2")
        proxy.gate.set()
        wait_for(lambda: _status(cluster, task) == "succeeded", "the redelivered scan", detail=cluster.logs)
    finally:
        proxy.close()
    run = _runs(cluster)[task]
    assert run.attempts == 2
    assert not run.worker.endswith(f":{first.pid}")
    assert _scans(cluster) == 1


def test_poison_image_is_dead_lettered_and_never_blocks_the_queue(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    poison = push_poison_image(registry.host, "poison/app", "1.0")
    good = push_image(tmp_path, registry.host, "poison/good", "1.0", "good-one")
    dispatch = CeleryDispatch(cluster.broker)
    bad_task = dispatch.submit("scan.image", _scan_task(f"{registry.host}/poison/app", poison))
    good_task = dispatch.submit("scan.image", _scan_task(f"{registry.host}/poison/good", good))
    cluster.start_worker("w1")
    wait_for(
        lambda: _status(cluster, bad_task) == "dead" and _status(cluster, good_task) == "succeeded",
        "the poison task dead-lettered and the good one done",
        detail=lambda: cluster.logs(),
    )
    bad = _runs(cluster)[bad_task]
    # The deeply nested config once crashed the parser (retried, then dead-lettered after 3 attempts); it is now
    # refused as hostile input, which is permanent: dead-lettered at the first attempt with its diagnosis.
    # Retries with backoff for crashes are covered by tests/unit/worker/test_runner.py.
    assert bad.attempts == 1
    assert "image config is not JSON" in bad.error
    assert _scans(cluster) == 1
    listed = cluster.run_cli("worker", "dead-letters", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)
    assert [letter["id"] for letter in letters] == [bad_task]
    assert letters[0]["payload"]["digest"] == poison


def test_redis_killed_with_queued_tasks_loses_none(
    cluster: Cluster, registry: RunningRegistry, redis_server: RunningRedis, tmp_path: Path
) -> None:
    digests = [push_image(tmp_path, registry.host, f"aof/app{i}", "1.0", f"aof-{i}") for i in range(3)]
    dispatch = CeleryDispatch(cluster.broker)
    tasks = [dispatch.submit("scan.image", _scan_task(f"{registry.host}/aof/app{i}", d)) for i, d in enumerate(digests)]
    dispatch.close()
    redis_server.kill()  # SIGKILL: only the append-only file (fsync always) survives
    redis_server.start()
    cluster.start_worker("w1")
    wait_for(lambda: all(_status(cluster, t) == "succeeded" for t in tasks), "every queued task", detail=cluster.logs)
    assert _scans(cluster) == 3


@pytest.fixture
def own_postgres() -> Iterator[RunningPostgres]:
    """A private PostgreSQL server this test may stop and start."""
    try:
        server = start_postgres()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def test_workers_back_off_while_postgresql_is_down_and_resume(
    cluster: Cluster,
    registry: RunningRegistry,
    own_postgres: RunningPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster.database = own_postgres.url("postgres")
    cluster.env["SHIELDWALL_DATABASE_URL"] = cluster.database
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", cluster.database)
    first = push_image(tmp_path, registry.host, "pgdown/app1", "1.0", "pg-1")
    second = push_image(tmp_path, registry.host, "pgdown/app2", "1.0", "pg-2")
    dispatch = CeleryDispatch(cluster.broker)
    cluster.start_worker("w1")
    one = dispatch.submit("scan.image", _scan_task(f"{registry.host}/pgdown/app1", first))
    wait_for(lambda: _status(cluster, one) == "succeeded", "the first scan", detail=cluster.logs)
    pg_ctl(own_postgres, "stop")
    try:
        two = dispatch.submit("scan.image", _scan_task(f"{registry.host}/pgdown/app2", second))
        wait_for(lambda: "backs off" in cluster.logs() or "backing off" in cluster.logs(), "the worker backing off")
    finally:
        pg_ctl(own_postgres, "start")
    wait_for(lambda: _status(cluster, two) == "succeeded", "the scan after PostgreSQL came back", detail=cluster.logs)
    assert _scans(cluster) == 2
    assert _runs(cluster)[two].attempts == 1  # the outage did not count as a failed attempt
