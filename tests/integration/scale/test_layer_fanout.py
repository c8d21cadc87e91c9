"""Per-layer fan-out on real workers: layers analysed elsewhere, the in-process result, lying layers dead-lettered.

redis-server, PostgreSQL, Debian's docker-registry and ``shieldwall worker``
processes are real. The first test's image scan runs in the test process (so
its result can be compared field by field with an in-process scan); the
download of its first layer is held at a proxy, so the other layers can only
have been analysed by the workers' ``scan.layer`` tasks.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from helpers.images import ImageSpec, oci_image
from helpers.registry_server import RunningRegistry
from helpers.scale_cluster import (
    BASE,
    CACHE_KEY,
    Cluster,
    GateProxy,
    claim_diff_id,
    push_built_image,
    wait_for,
)
from helpers.secrets import ghp
from shieldwall.cache.shared import SharedLayerCache, cache_stats
from shieldwall.egress import EgressPolicy
from shieldwall.model import ScanResult
from shieldwall.service.dispatch import CeleryDispatch
from shieldwall.service.fanout import FanOutScan
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.store.schema import Scan, TaskRun
from shieldwall.target.limits import DEFAULT_LIMITS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMITS = dataclasses.replace(DEFAULT_LIMITS, egress=EgressPolicy.cli({}))
APP_LAYERS: list[dict[str, object]] = [
    {"srv/api/requirements.txt": b"requests==2.19.0\nJinja2==2.10\nPyYAML==5.3\n"},
    {"srv/web/package.json": b'{"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.15"}}'},
    {"srv/conf/settings.py": f'GITHUB_TOKEN = "{ghp()}"\n'.encode()},
]


def _runs(cluster: Cluster, name: str) -> list[TaskRun]:
    with cluster.store() as store, store.session() as session:
        return list(session.scalars(select(TaskRun).where(TaskRun.name == name)))


def _plain(result: ScanResult) -> ScanResult:
    return dataclasses.replace(result, started_at="", finished_at="")


def test_layers_are_analysed_on_other_workers_and_the_result_is_the_in_process_one(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    layers: list[Any] = [BASE, *APP_LAYERS]
    image = oci_image(layers, ImageSpec())
    digest = push_built_image(registry.host, "fan/app", "1.0", image)
    workers = [cluster.start_worker("w1"), cluster.start_worker("w2")]
    proxy = GateProxy(registry.host, only=image.layer_digests[0])  # the image task's own first layer waits
    client = redis.Redis.from_url(cluster.broker)
    fan = FanOutScan(CeleryDispatch(cluster.broker), SharedLayerCache(client, CACHE_KEY.encode()), fanout_min_bytes=0)
    text = f"registry:{proxy.host}/fan/app@{digest}"
    box: dict[str, Any] = {}

    def image_task() -> None:
        try:
            box["result"] = fan(text, ScanOptions(limits=LIMITS, cache_dir=tmp_path / "fan-local"))
        except BaseException as exc:  # surfaced below
            box["error"] = exc

    thread = threading.Thread(target=image_task)
    try:
        thread.start()
        assert proxy.blob_requested.wait(120), cluster.logs()
        wait_for(
            lambda: (
                [json.loads(r.result or "{}").get("outcome") for r in _runs(cluster, "scan.layer")] == ["analysed"] * 3
            ),
            "the three other layers analysed by the workers",
            detail=cluster.logs,
        )
    finally:
        proxy.gate.set()
        thread.join(300)
    assert "error" not in box, box.get("error")
    assert fan.queued == 3
    pids = {f":{w.pid}" for w in workers}
    assert all(any(r.worker.endswith(pid) for pid in pids) for r in _runs(cluster, "scan.layer"))
    expected = scan_target(text, ScanOptions(limits=LIMITS, cache_dir=tmp_path / "in-process"))
    proxy.close()
    got: ScanResult = box["result"]
    assert _plain(got) == _plain(expected)
    assert {p.name for p in got.packages} >= {"pkg0", "pkg39", "requests", "Jinja2"}
    assert any(f.kind.value == "secret" for f in got.findings)


def test_a_layer_lying_about_its_diff_id_is_dead_lettered_and_never_cached(
    cluster: Cluster, registry: RunningRegistry, tmp_path: Path
) -> None:
    cluster.env["SHIELDWALL_FANOUT_MIN_BYTES"] = "0"
    clean = oci_image([BASE, APP_LAYERS[0]], ImageSpec())
    clean_digest = push_built_image(registry.host, "lie/clean", "1.0", clean)
    cluster.start_worker("w1")
    dispatch = CeleryDispatch(cluster.broker)
    first = dispatch.submit(
        "scan.image", {"repository": f"{registry.host}/lie/clean", "digest": clean_digest, "tags": ["1.0"]}
    )
    wait_for(
        lambda: any(r.id == first and r.status == "succeeded" for r in _runs(cluster, "scan.image")),
        "the clean image",
        detail=cluster.logs,
    )
    # a hostile image: its last layer's bytes are other content, but its config claims the clean layer's diff ID
    hostile = claim_diff_id(oci_image([BASE, APP_LAYERS[1], APP_LAYERS[2]], ImageSpec()), 2, clean.diff_ids[1])
    hostile_digest = push_built_image(registry.host, "lie/hostile", "1.0", hostile)
    second = dispatch.submit(
        "scan.image", {"repository": f"{registry.host}/lie/hostile", "digest": hostile_digest, "tags": ["1.0"]}
    )

    def both_dead() -> bool:
        image = [r for r in _runs(cluster, "scan.image") if r.id == second]
        layer = [r for r in _runs(cluster, "scan.layer") if r.status == "dead"]
        return bool(image) and image[0].status == "dead" and len(layer) == 1

    wait_for(both_dead, "the lying layer dead-lettered in its layer task and its image task", detail=cluster.logs)
    [image_run] = [r for r in _runs(cluster, "scan.image") if r.id == second]
    [layer_run] = [r for r in _runs(cluster, "scan.layer") if r.status == "dead"]
    for run in (image_run, layer_run):
        assert "diff ID mismatch" in run.error
        assert run.attempts == 1  # corrupt input is permanent: no retries
    assert json.loads(layer_run.payload)["blob"] == hostile.layer_digests[2]
    cache = SharedLayerCache(redis.Redis.from_url(cluster.broker), CACHE_KEY.encode())
    assert not cache.is_verified(hostile.layer_digests[2], clean.diff_ids[1])  # the lie was never recorded
    # two clean layers, then the hostile image's good layer: the lying layer's result was never stored
    assert cache_stats(redis.Redis.from_url(cluster.broker)).get("puts") == 3
    with cluster.store() as store, store.session() as session:
        assert session.scalar(select(func.count()).select_from(Scan)) == 1  # only the clean image
