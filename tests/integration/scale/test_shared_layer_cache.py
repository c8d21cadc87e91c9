"""The shared layer cache on a real Redis: one analysis per layer across processes, forged entries refused."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import redis

from helpers.analyzers import PkgListAnalyzer
from helpers.images import build_docker_archive
from helpers.redis_server import RunningRedis
from shieldwall.cache.layers import cache_key
from shieldwall.cache.shared import PREFIX, SharedLayerCache, cache_stats, seal
from shieldwall.service.scan import ScanOptions, scan_target

pytestmark = pytest.mark.integration

KEY = b"worker-hmac-key-for-tests-0123456789"
LAYERS = [{"/base.pkglist": b"openssl 3.0.13\nzlib 1.2.13\n"}, {"/app.pkglist": b"app 1.0\n"}]


def _options(cache: SharedLayerCache, analyzer: PkgListAnalyzer, tmp_path: Path) -> ScanOptions:
    return ScanOptions(
        analyzers=(), extra_analyzers=(analyzer,), cache_dir=tmp_path / "local", layer_cache=cache, scanners=frozenset()
    )


def test_two_workers_at_once_analyse_each_layer_once(redis_server: RunningRedis, tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    analyzers = [PkgListAnalyzer() for _ in range(4)]
    results: list[object] = []
    start = threading.Barrier(4)

    def worker(analyzer: PkgListAnalyzer) -> None:
        cache = SharedLayerCache(redis.Redis.from_url(redis_server.url()), KEY, lock_ttl=5.0)
        start.wait()
        results.append(scan_target(str(archive), _options(cache, analyzer, tmp_path)).packages)

    threads = [threading.Thread(target=worker, args=(a,)) for a in analyzers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 4
    assert all(r == results[0] for r in results)
    assert {p.name for p in results[0]} == {"openssl", "zlib", "app"}  # type: ignore[attr-defined]
    # two layers, four concurrent scans: each layer analysed by exactly one of them
    assert sum(a.calls for a in analyzers) == 2
    stats = cache_stats(redis.Redis.from_url(redis_server.url()))
    assert stats["puts"] == 2


def test_entry_forged_without_the_key_is_a_miss_with_a_warning(
    redis_server: RunningRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(redis_server.url())
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS)
    honest = PkgListAnalyzer()
    cache = SharedLayerCache(client, KEY)
    scan_target(str(archive), _options(cache, honest, tmp_path))
    keys = sorted(k.decode() for k in client.scan_iter(PREFIX + "*"))
    assert len(keys) == 2
    # an attacker who can write to Redis but lacks the key: an entry claiming an empty layer
    from shieldwall.analyze.runner import LayerResult

    for name in keys:
        client.set(name, seal(b"attacker-guessed-key-000000000000", name[len(PREFIX) :], LayerResult()))
    again = PkgListAnalyzer()
    with caplog.at_level(logging.WARNING, logger="shieldwall.cache"):
        packages = scan_target(str(archive), _options(cache, again, tmp_path)).packages
    assert again.calls == 2  # both layers analysed again: the forged entries were not used
    assert {p.name for p in packages} == {"openssl", "zlib", "app"}
    assert any("integrity check" in r.getMessage() for r in caplog.records)
    assert cache_stats(client)["bad_mac"] == 4  # each forged entry read twice: before and under the lock


def test_authentic_entry_moved_to_another_key_is_refused(redis_server: RunningRedis, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_server.url())
    cache = SharedLayerCache(client, KEY)
    from shieldwall.analyze.runner import LayerResult

    one = cache_key("sha256:" + "1" * 64, [("a", 1)])
    two = cache_key("sha256:" + "2" * 64, [("a", 1)])
    cache.put(one, LayerResult(paths=("etc/passwd",)))
    assert cache.get(one) == LayerResult(paths=("etc/passwd",))
    client.set(PREFIX + two, client.get(PREFIX + one) or b"")
    assert cache.get(two) is None
    flipped = bytearray(client.get(PREFIX + one) or b"")
    flipped[-1] ^= 1
    client.set(PREFIX + one, bytes(flipped))
    assert cache.get(one) is None
    other_worker = SharedLayerCache(client, b"another-workers-key-0123456789")
    cache.put(one, LayerResult(paths=("etc/passwd",)))
    assert other_worker.get(one) is None


class SlowPkgList(PkgListAnalyzer):
    """Analyses slowly enough that a lock without renewal would expire meanwhile."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def analyze(self, input: object) -> object:  # type: ignore[override]
        import time

        time.sleep(self.delay)
        return super().analyze(input)  # type: ignore[arg-type]


def test_lock_is_renewed_during_a_long_analysis(redis_server: RunningRedis, tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS[:1])
    analyzers = [SlowPkgList(delay=2.0) for _ in range(2)]
    start = threading.Barrier(2)

    def worker(analyzer: PkgListAnalyzer) -> None:
        # a 0.6 s lock, renewed every 0.2 s: the other scan must wait for the whole 2 s analysis
        cache = SharedLayerCache(redis.Redis.from_url(redis_server.url()), KEY, lock_ttl=0.6)
        start.wait()
        scan_target(str(archive), _options(cache, analyzer, tmp_path))

    threads = [threading.Thread(target=worker, args=(a,)) for a in analyzers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(a.calls for a in analyzers) == 1


def test_a_dead_holders_lock_expires_and_the_waiter_analyses(redis_server: RunningRedis, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_server.url())
    archive = build_docker_archive(tmp_path / "i.tar", LAYERS[:1])
    cache = SharedLayerCache(client, KEY, lock_ttl=1.0)
    from shieldwall.cache.shared import LOCK_PREFIX

    # a worker took the lock of this layer and died: nobody renews it
    analyzer = PkgListAnalyzer()
    scan_target(str(archive), _options(SharedLayerCache(client, KEY), analyzer, tmp_path / "probe"))
    [entry] = [k.decode()[len(PREFIX) :] for k in client.scan_iter(PREFIX + "*")]
    client.delete(PREFIX + entry)
    client.set(LOCK_PREFIX + entry, b"dead-holder", px=1500)
    waiter = PkgListAnalyzer()
    packages = scan_target(str(archive), _options(cache, waiter, tmp_path)).packages
    assert waiter.calls == 1
    assert {p.name for p in packages} == {"openssl", "zlib"}
