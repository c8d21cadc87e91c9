"""Migration 0010 creates exactly the dashboard's indexes of the ORM schema (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from shieldwall.store import Store
from shieldwall.store.schema import Base

OURS = (
    "ix_findings_first_scan_id",
    "ix_findings_asset_fixed_at",
    "ix_findings_first_seen",
    "ix_findings_fixed_at",
    "ix_asset_tags_first_seen",
    "ix_assets_first_seen",
    "ix_findings_status_suppressed_by",
)


def test_the_migrated_indexes_match_the_schema(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        names = {
            i["name"] for table in ("findings", "assets", "asset_tags") for i in inspect(connection).get_indexes(table)
        }
    assert [d for d in diff if any(name in repr(d) for name in OURS)] == []
    assert set(OURS) <= names
