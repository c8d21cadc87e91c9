"""Two real workers on Redis + PostgreSQL: a registry sweep scans each digest once, a shared base once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers.registry_server import RunningRegistry
from helpers.scale_cluster import Cluster, push_image, wait_for
from shieldwall.cache.shared import cache_stats
from shieldwall.store.audit import verify
from shieldwall.store.schema import Asset, AssetTag, Scan, TaskRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _count(cluster: Cluster, column: object) -> int:
    with cluster.store() as store, store.session() as session:
        return int(session.scalar(select(func.count()).select_from(column)) or 0)  # type: ignore[arg-type]


def _runs(cluster: Cluster) -> dict[str, str]:
    with cluster.store() as store, store.session() as session:
        return {r.id: r.status for r in session.scalars(select(TaskRun))}


def test_sweep_on_two_workers_scans_every_digest_once_and_the_shared_base_once(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    prefix = f"sweep{tmp_path.name[-6:].lower()}"
    digests = [push_image(tmp_path, registry.host, f"{prefix}/app{i}", "1.0", f"{prefix}-m{i}") for i in range(5)]
    # one digest under a second tag: still one scan
    again = push_image(tmp_path, registry.host, f"{prefix}/app0", "latest", f"{prefix}-m0")
    assert again == digests[0]
    cluster.start_worker("w1")
    cluster.start_worker("w2")

    swept = cluster.run_cli(
        "monitor", "sweep", registry.host, "--insecure", "--repository", f"{prefix}/*", "--format", "json"
    )
    assert swept.returncode == 0, swept.stderr
    doc = json.loads(swept.stdout)
    assert doc["queued"] is True
    assert doc["tags"] == 6
    assert doc["digests"] == 5
    assert doc["scheduled"] == 5

    wait_for(
        lambda: len(_runs(cluster)) == 5 and set(_runs(cluster).values()) == {"succeeded"},
        "5 scans",
        detail=lambda: f"{_runs(cluster)}\n{cluster.logs()}",
    )
    assert _count(cluster, Scan) == 5, cluster.logs()
    with cluster.store() as store, store.session() as session:
        identifiers = set(session.scalars(select(Asset.identifier)))
        tags = {f"{r.repository}:{r.tag}" for r in session.scalars(select(AssetTag))}
    assert identifiers == set(digests)
    assert f"{registry.host}/{prefix}/app0:latest" in tags and f"{registry.host}/{prefix}/app0:1.0" in tags
    stats = cache_stats(cluster.redis())
    # 6 distinct layers (one shared base + five unique): each analysed once across both workers
    assert stats.get("puts") == 6, stats
    assert stats.get("bad_mac", 0) == 0

    # the same sweep again: nothing new to scan
    second = cluster.run_cli(
        "monitor", "sweep", registry.host, "--insecure", "--repository", f"{prefix}/*", "-f", "json"
    )
    assert second.returncode == 0, second.stderr
    doc2 = json.loads(second.stdout)
    assert doc2["scheduled"] == 0
    assert doc2["known"] == 6
    assert _count(cluster, Scan) == 5

    with cluster.store() as store:
        report = verify(store)
    assert report.ok, report


def test_sweep_without_a_broker_scans_in_process_on_sqlite(
    registry: RunningRegistry, tmp_path: Path, clean_registry_env: Path
) -> None:
    import os
    import subprocess
    import sys

    from helpers.scale_cluster import SRC
    from shieldwall.store import Store

    prefix = f"inline{tmp_path.name[-6:].lower()}"
    digests = {push_image(tmp_path, registry.host, f"{prefix}/app{i}", "1.0", f"{prefix}-{i}") for i in range(3)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
            "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache"),
            "DOCKER_CONFIG": str(clean_registry_env),
            "SHIELDWALL_EGRESS_ALLOW": "127.0.0.0/8,::1/128",  # the test registry is on loopback
        }
    )
    command = [sys.executable, "-m", "shieldwall", "monitor", "sweep", registry.host, "--repository", f"{prefix}/*"]
    first = subprocess.run([*command, "-f", "json"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert (doc["queued"], doc["scheduled"], doc["scanned"]) == (False, 3, 3)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    assert "3 known" in second.stdout and "0 to scan" in second.stdout
    url = f"sqlite:///{tmp_path / 'data' / 'shieldwall.db'}"
    with Store.open(url, audit_key_path=tmp_path / "k.pem") as store, store.session() as session:
        assert set(session.scalars(select(Asset.identifier))) == digests
        assert session.scalar(select(func.count()).select_from(Scan)) == 3
