"""The monitor's decisions with a fake scanner: scan a digest once, tag-only for known digests, rescans."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy import func, select, update

from helpers.store_data import image_result, pypi
from shieldwall.model import ScanResult
from shieldwall.service.monitor import Monitor
from shieldwall.service.monitor_config import parse_config
from shieldwall.service.scan import ScanOptions
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.queries import list_assets
from shieldwall.store.schema import Asset, Scan

HOST = "registry.test"


def _config(**extra: object) -> dict[str, object]:
    return {"registries": [{"name": "r", "url": HOST, "environment": "prod"}], **extra}


class FakeScanner:
    """Returns a result for the digest in the target text and counts the calls."""

    def __init__(self) -> None:
        self.targets: list[str] = []

    def __call__(self, text: str, options: ScanOptions) -> ScanResult:
        self.targets.append(text)
        digest = text.rsplit("@", 1)[1]
        result = image_result(digest[-2:], (pypi("Jinja2", "2.11.2"),), repository=f"{HOST}/app", tag="")
        return replace(result, target=replace(result.target, digest=digest))


def _scans(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Scan)) or 0)


def test_scan_once_then_tag_then_known(store: Store) -> None:
    scanner = FakeScanner()
    monitor = Monitor(store, parse_config(_config(), "t"), scan=scanner)
    watched = monitor.config.registries[0]
    digest = "sha256:" + "cd" * 32
    assert monitor.handle_image(watched, "app", "1.0", digest, "poll") == "scanned"
    assert monitor.handle_image(watched, "app", "1.0", digest, "poll") == "known"
    assert monitor.handle_image(watched, "app", "latest", digest, "webhook-harbor") == "tagged"
    assert monitor.handle_image(watched, "other", "x", digest, "poll") == "tagged"
    assert scanner.targets == [f"registry:{HOST}/app@{digest}"]
    [asset] = list_assets(store)
    assert asset.tags == (f"{HOST}/app:1.0", f"{HOST}/app:latest", f"{HOST}/other:x")
    assert asset.environment == "prod"
    assert _scans(store) == 1
    assert verify(store).ok


def test_golden_tag_pattern_from_the_config(store: Store) -> None:
    monitor = Monitor(store, parse_config(_config(golden={"tag_patterns": ["base-*"]}), "t"), scan=FakeScanner())
    watched = monitor.config.registries[0]
    monitor.handle_image(watched, "app", "base-2024", "sha256:" + "ee" * 32, "poll")
    monitor.handle_image(watched, "app", "feature", "sha256:" + "ff" * 32, "poll")
    golden = {a.identifier[-2:]: a.golden for a in list_assets(store)}
    assert golden == {"ee": True, "ff": False}


def test_scheduled_rescan_of_stale_images(store: Store) -> None:
    scanner = FakeScanner()
    monitor = Monitor(store, parse_config(_config(rescan_interval="1h"), "t"), scan=scanner)
    watched = monitor.config.registries[0]
    digest = "sha256:" + "ab" * 32
    monitor.handle_image(watched, "app", "1.0", digest, "poll")
    monitor.rescan_due()
    assert len(scanner.targets) == 1  # fresh: not due
    with store.session() as session:
        session.execute(update(Asset).values(last_seen=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
    monitor.rescan_due()
    assert len(scanner.targets) == 2
    assert monitor.stats.rescans == 1
    with store.session() as session:
        assert session.scalars(select(Scan.trigger).order_by(Scan.id)).all() == ["poll", "schedule"]
