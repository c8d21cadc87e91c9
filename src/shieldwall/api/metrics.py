"""``/metrics``: Prometheus exposition of what the server did and what the store holds.

Two kinds of numbers: counters this process keeps (scans run by the API and
their durations, webhooks, requests refused by the rate limit) and gauges read
from the store on every scrape (open findings by severity and kind, recorded
scans, assets, the advisory database's age, the job queue, alerts sent and
failed). Each app has its own ``CollectorRegistry``: several servers in one
process (tests) do not share counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from shieldwall.api.queries import ACTIVE
from shieldwall.errors import ShieldwallError
from shieldwall.store import Store
from shieldwall.store.schema import Asset, OutboxAlert, OutboxStatus, Scan, StoredFinding

log = logging.getLogger("shieldwall.api")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class StoreCollector(Collector):
    """Gauges read from the store (and the advisory database) at scrape time."""

    def __init__(self, store: Store, vulndb_path: Callable[[], Path], queue_depth: Callable[[], int]) -> None:
        self._store = store
        self._vulndb_path = vulndb_path
        self._queue_depth = queue_depth

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: describing would query the store when the collector is registered."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """One consistent read of the store per scrape; a store error shows as ``shieldwall_store_up 0``."""
        up = GaugeMetricFamily("shieldwall_store_up", "1 when the store answered this scrape")
        try:
            families = list(self._store_metrics())
        except SQLAlchemyError as exc:
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            families = []
        else:
            up.add_metric([], 1)
            yield up
        yield from families
        yield from self._vulndb_metrics()
        depth = GaugeMetricFamily("shieldwall_job_queue_depth", "Scan and update jobs queued or running")
        depth.add_metric([], self._queue_depth())
        yield depth

    def _store_metrics(self) -> Iterator[Metric]:
        with self._store.session() as session:
            findings = session.execute(
                select(StoredFinding.severity, StoredFinding.kind, func.count())
                .where(StoredFinding.status.in_(ACTIVE))
                .group_by(StoredFinding.severity, StoredFinding.kind)
            ).all()
            scans = int(session.scalar(select(func.count()).select_from(Scan)) or 0)
            last = session.scalar(select(func.max(Scan.recorded_at)))
            assets = int(session.scalar(select(func.count()).select_from(Asset).where(Asset.active.is_(True))) or 0)
            alerts = dict(session.execute(select(OutboxAlert.status, func.count()).group_by(OutboxAlert.status)).all())
        family = GaugeMetricFamily(
            "shieldwall_findings_open", "Open (open or reopened) findings in the store", labels=["severity", "kind"]
        )
        for severity, kind, count in sorted(findings):
            family.add_metric([str(severity), str(kind)], int(count))
        yield family
        recorded = CounterMetricFamily("shieldwall_scans_recorded", "Scans recorded in the store (by any client)")
        recorded.add_metric([], scans)
        yield recorded
        if last is not None:
            when = GaugeMetricFamily("shieldwall_last_scan_timestamp_seconds", "When the newest scan was recorded")
            when.add_metric([], last.timestamp())
            yield when
        active = GaugeMetricFamily("shieldwall_assets_active", "Assets that are active (a current tag points at them)")
        active.add_metric([], assets)
        yield active
        sent = CounterMetricFamily("shieldwall_alerts_sent", "Alerts delivered (outbox rows sent)")
        sent.add_metric([], int(alerts.get(str(OutboxStatus.SENT), 0)))
        yield sent
        failed = CounterMetricFamily("shieldwall_alerts_failed", "Alerts given up on after the last attempt (dead)")
        failed.add_metric([], int(alerts.get(str(OutboxStatus.DEAD), 0)))
        yield failed
        pending = GaugeMetricFamily("shieldwall_alerts_pending", "Alerts waiting to be sent (pending or sending)")
        pending.add_metric([], int(alerts.get(str(OutboxStatus.PENDING), 0)) + int(alerts.get("sending", 0)))
        yield pending

    def _vulndb_metrics(self) -> Iterator[Metric]:
        from shieldwall.vulndb.store import VulnDB

        path = self._vulndb_path()
        age = GaugeMetricFamily("shieldwall_vulndb_age_seconds", "Seconds since the advisory database was updated")
        advisories = GaugeMetricFamily("shieldwall_vulndb_advisories", "Advisories in the advisory database")
        if not path.is_file():
            return
        try:
            with VulnDB.open(path) as db:
                status = db.status()
        except (ShieldwallError, OSError) as exc:
            log.warning("metrics: cannot read the advisory database: %s", exc)
            return
        if status.age_seconds is not None:
            age.add_metric([], status.age_seconds)
            yield age
        advisories.add_metric([], status.advisories)
        yield advisories


class ApiMetrics:
    """The process-local counters and the registry ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.scans = Counter(
            "shieldwall_api_scans",
            "Scans run by the API's job queue, by target kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.scan_seconds = Histogram(
            "shieldwall_api_scan_duration_seconds",
            "Wall-clock duration of API scans, by target kind",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "shieldwall_api_webhooks", "Job webhooks called, by outcome", ["outcome"], registry=self.registry
        )
        self.rate_limited = Counter(
            "shieldwall_api_rate_limited", "Requests refused by the per-token rate limit", registry=self.registry
        )
        self.db_updates = Counter(
            "shieldwall_api_db_updates",
            "Advisory database updates run by the API, by outcome",
            ["outcome"],
            registry=self.registry,
        )

    def attach_store(self, collector: StoreCollector) -> None:
        """Add the store-backed gauges."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
