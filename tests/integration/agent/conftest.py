"""Fleet tests: a real manager process over SQLite and over a real PostgreSQL, real agent processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.postgres_server import drop_database, fresh_database, shared_postgres

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store database on each backend (PostgreSQL missing is a failure, not a skip)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'manager.db'}"
        return
    try:
        server = shared_postgres()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    name = fresh_database(server, "fleet")
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)
