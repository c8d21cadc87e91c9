"""dashops: indexes for the dashboard's "what changed" and "who decided what" pages

Revision ID: 0010
Revises: 0002
Create Date: 2026-12-08 01:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_findings_first_scan_id", "findings", ["first_scan_id"]),
    ("ix_findings_asset_fixed_at", "findings", ["asset_id", "fixed_at"]),
    ("ix_findings_first_seen", "findings", ["first_seen"]),
    ("ix_findings_fixed_at", "findings", ["fixed_at"]),
    ("ix_asset_tags_first_seen", "asset_tags", ["first_seen"]),
    ("ix_assets_first_seen", "assets", ["first_seen"]),
    ("ix_findings_status_suppressed_by", "findings", ["status", "suppressed_by"]),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Revert this revision."""
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
