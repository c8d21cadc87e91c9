"""Migration 0012 creates exactly the dashperf index of the ORM schema (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from shieldwall.store import Store
from shieldwall.store.schema import Base

OURS = ("ix_findings_lifecycle",)


def test_the_migrated_indexes_match_the_schema(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        names = {i["name"] for table in ("findings",) for i in inspect(connection).get_indexes(table)}
    assert [d for d in diff if any(name in repr(d) for name in OURS)] == []
    assert set(OURS) <= names
