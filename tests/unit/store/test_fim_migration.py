"""Migration 0003 creates exactly the ``fim_change_windows`` table of the ORM schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shieldwall.store import Store
from shieldwall.store.schema import Base


def test_the_migrated_change_window_table_matches_the_schema(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diff if "fim_change_windows" in repr(d)]
    assert ours == []
