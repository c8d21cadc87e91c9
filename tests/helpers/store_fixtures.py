"""Fixtures shared by the store, audit, rematch and monitor tests (imported by their conftest files).

``store_url`` is parametrized over ``sqlite`` and ``postgresql``: every test
that takes it runs on both. PostgreSQL is a real server (``postgres_server``);
when its binaries are missing the fixture FAILS (never skips): CI must run
these tests, and .ci/run installs the ``postgresql`` package.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.postgres_server import RunningPostgres, drop_database, fresh_database, shared_postgres
from shieldwall.store import Store

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> RunningPostgres:
    """A real PostgreSQL server on 127.0.0.1 for this test process."""
    try:
        return shared_postgres()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database URL: a SQLite file in tmp_path, or a new database on the PostgreSQL server."""
    monkeypatch.delenv("SHIELDWALL_DATABASE_URL", raising=False)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server: RunningPostgres = request.getfixturevalue("postgres_server")
    name = fresh_database(server)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """An opened, migrated store with its audit key under tmp_path (checkpoint every 5 events)."""
    opened = Store.open(store_url, audit_key_path=tmp_path / "audit-key.pem", checkpoint_every=5)
    try:
        yield opened
    finally:
        opened.close()
