"""Distributed-work fixtures: a private redis-server, a PostgreSQL database, real worker processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.postgres_server import RunningPostgres, drop_database, fresh_database
from helpers.redis_server import RunningRedis, start_redis
from helpers.scale_cluster import CACHE_KEY, SRC, Cluster
from helpers.store_fixtures import postgres_server

__all__ = ["postgres_server"]


@pytest.fixture
def redis_server() -> Iterator[RunningRedis]:
    """A private redis-server (append-only, fsync always) in a temporary directory."""
    try:
        server = start_redis()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: RunningPostgres) -> Iterator[str]:
    """An empty database on the shared test PostgreSQL server."""
    name = fresh_database(postgres_server, "scale")
    try:
        yield postgres_server.url(name)
    finally:
        drop_database(postgres_server, name)


@pytest.fixture
def cluster(
    tmp_path: Path, redis_server: RunningRedis, pg_url: str, monkeypatch: pytest.MonkeyPatch, clean_registry_env: Path
) -> Iterator[Cluster]:
    """Broker, store and worker environment for one test; the workers are stopped at the end."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHIELDWALL_") and k not in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR")
    }
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "SHIELDWALL_BROKER_URL": redis_server.url(0),
            "SHIELDWALL_DATABASE_URL": pg_url,
            "SHIELDWALL_CACHE_KEY": CACHE_KEY,
            "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
            "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache-cli"),
            "SHIELDWALL_AUDIT_KEY": str(tmp_path / "audit-key.pem"),
            "SHIELDWALL_BROKER_VISIBILITY_TIMEOUT": "6",
            "SHIELDWALL_TASK_MAX_ATTEMPTS": "3",
            "SHIELDWALL_TASK_RETRY_BASE": "0.5",
            "SHIELDWALL_TASK_HEARTBEAT": "1",
            "DOCKER_CONFIG": str(clean_registry_env),
            # workers use the server's egress policy: the test registry lives on loopback, allowed as an
            # operator allows an internal registry
            "SHIELDWALL_EGRESS_ALLOW": "127.0.0.0/8,::1/128",
            # the workers have no advisory database: scans go on, their packages marked "not evaluated"
            "SHIELDWALL_ALLOW_INCOMPLETE_DB": "1",
        }
    )
    for key in ("SHIELDWALL_BROKER_URL", "SHIELDWALL_DATABASE_URL", "SHIELDWALL_BROKER_VISIBILITY_TIMEOUT"):
        monkeypatch.setenv(key, env[key])
    running = Cluster(tmp_path, redis_server.url(0), pg_url, env)
    try:
        yield running
    finally:
        running.stop()
