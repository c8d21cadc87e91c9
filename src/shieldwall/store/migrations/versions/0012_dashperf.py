"""dashperf: an index covering the overview's counts and trend and the findings page's severity order

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    (
        "ix_findings_lifecycle",
        "findings",
        ["status", "severity", "kind", "first_seen", "fixed_at", "id"],
    ),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Revert this revision."""
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
