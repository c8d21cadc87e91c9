"""With a broker, the monitor's polls (sweeps), scans and rescans are tasks; a rescan period is scanned once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from helpers.registry_server import RunningRegistry
from helpers.scale_cluster import Cluster, push_image, wait_for
from shieldwall.service.monitor import Monitor
from shieldwall.service.monitor_config import parse_config
from shieldwall.store.schema import Asset, Scan, TaskRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_monitor_polls_and_rescans_through_workers(cluster: Cluster, registry: RunningRegistry, tmp_path: Path) -> None:
    digest = push_image(tmp_path, registry.host, "mon/app", "1.0", "monitor-1")
    config = parse_config(
        {
            "registries": [{"name": "local", "url": registry.host, "repositories": ["mon/*"]}],
            "rescan_interval": "1h",
        },
        "test",
    )
    cluster.start_worker("w1")
    with cluster.store() as store:
        from shieldwall.service.monitor import effective_config

        store.put_setting("monitor.config", config.model_dump(mode="json"))
        assert effective_config(store, None).rescan_interval == 3600
        monitor = Monitor(store, config)

        def scans() -> int:
            with store.session() as session:
                return int(session.scalar(select(func.count()).select_from(Scan)) or 0)

        def finished() -> bool:
            with store.session() as session:
                statuses = list(session.scalars(select(TaskRun.status)))
            return bool(statuses) and all(s in ("succeeded", "dead") for s in statuses)

        monitor.poll_once()
        wait_for(lambda: scans() == 1 and finished(), "the polled image scanned on the worker", detail=cluster.logs)
        monitor.poll_once()  # known digest: nothing queued
        # make the asset due for its rescan, then ask twice in the same period: one rescan
        with store.session() as session:
            session.execute(update(Asset).values(last_seen=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
        monitor.rescan_due()
        monitor.rescan_due()
        wait_for(lambda: finished() and scans() == 2, "the rescan", detail=cluster.logs)
        with store.session() as session:
            runs = session.scalars(select(TaskRun)).all()
            triggers = list(session.scalars(select(Scan.trigger).order_by(Scan.id)))
        assert sorted(r.name for r in runs) == ["registry.sweep", "registry.sweep", *["scan.image"] * 3]
        assert sorted(r.result.count('"duplicate"') for r in runs if "schedule" in r.idempotency_key) == [0, 1]
        assert triggers == ["poll", "schedule"]
        assert scans() == 2
        with store.session() as session:
            assert session.scalar(select(Asset.identifier)) == digest
